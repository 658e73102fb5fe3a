"""压缩炸弹 Hostile workbooks built in the tests: a valid .xlsx of a few MB whose sheet inflates to GBs.

The sheet is one ≈ 1 MB block of rows deflated once with a full flush (the block decodes on its own),
repeated: a valid deflate stream of N MB from N copies of ≈ 1.9 KB, with the true CRC and sizes, so
any zip reader accepts it. Writing a 2 GiB bomb takes about as long as its CRC (a few seconds).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

MIB = 1024 * 1024
_CELL = b'<c t="inlineStr"><is><t>' + b"x" * 2000 + b"</t></is></c>"
_ROW = b"<row>" + _CELL * 50 + b"</row>"
_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xa7\x93\xe5\x90\x8d</t></is></c></row>'
)
_TAIL = b"</sheetData></worksheet>"
_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
SHEET = "xl/worksheets/sheet1.xml"


def _deflated(data: bytes, *, final: bool) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def xlsx_bomb(path: Path, *, inflated_mib: int, declared_mib: int | None = None) -> Path:
    """A valid .xlsx whose sheet inflates to about ``inflated_mib`` MiB (< 4096: no zip64).

    ``declared_mib``: the size its zip headers claim instead (a forged directory), CRC unchanged.
    """
    block = _ROW * 10  # whole rows (≈ 1 MB): the sheet stays well-formed
    copies = -(-inflated_mib * MIB // len(block))
    packed = _deflated(block, final=False)
    head = _deflated(_HEAD, final=False)
    tail = _deflated(_TAIL, final=True)
    size = len(_HEAD) + copies * len(block) + len(_TAIL)
    crc = zlib.crc32(_HEAD)
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(_TAIL, crc)
    compressed = len(head) + len(packed) * copies + len(tail)
    stated = size if declared_mib is None else declared_mib * MIB
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
    with path.open("r+b") as out:
        # Replace the central directory: the sheet's local entry, its data, then every entry's record.
        archive = zipfile.ZipFile(path)
        infos = archive.infolist()
        archive.close()
        out.seek(_central_offset(path))
        directory_at = out.tell()
        sheet_name = SHEET.encode()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, compressed, stated, len(sheet_name), 0
            )
        )
        out.write(sheet_name)
        out.write(head)
        for _ in range(copies):
            out.write(packed)
        out.write(tail)
        records = b""
        for info in infos:
            records += _central_record(
                info.filename.encode(), info.CRC, info.compress_size, info.file_size, 8, info.header_offset
            )
        records += _central_record(sheet_name, crc, compressed, stated, 8, directory_at)
        central_at = out.tell()
        out.write(records)
        count = len(infos) + 1
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(records), central_at, 0))
        out.truncate()
    return path


def _central_offset(path: Path) -> int:
    data = path.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    return int(struct.unpack("<L", data[end + 16 : end + 20])[0])


def _central_record(name: bytes, crc: int, compressed: int, size: int, method: int, offset: int) -> bytes:
    return (
        struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            method,
            0,
            0,
            crc,
            compressed,
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )


def xlsx_shared_string_bomb(path: Path, *, cells: int = 150_000, chars: int = 32_000) -> Path:
    """An .xlsx of < 1 MB within every reading limit whose ``cells`` all show one shared string of
    ``chars`` characters: a reader that copies the string per cell (calamine does) needs cells × chars
    × 3 bytes — 14 GB by default. Only the worker's memory ceiling stops it."""
    parts = dict(_PARTS)
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>",
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    strings = f"<si><t>姓名</t></si><si><t>{'长' * chars}</t></si>"
    rows = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>1</v></c></row>' for i in range(2, cells + 2))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            f'2006/main" count="{cells + 1}" uniqueCount="2">{strings}</sst>',
        )
        archive.writestr(
            SHEET,
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
            f"{rows}</sheetData></worksheet>",
        )
    return path
