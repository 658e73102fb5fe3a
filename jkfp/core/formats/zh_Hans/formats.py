"""中文日期输入格式 Date input formats for zh-hans with ISO first.

Django's zh_Hans formats render a date as ``2026/11/23``, which an ``<input type="date">`` rejects (it
shows blank and a required field blocks the form). ISO first makes every date widget render
``2026-11-23``; the other Chinese spellings are still accepted on input. Settings not named here fall
back to Django's zh_Hans formats.
"""

DATE_INPUT_FORMATS = [
    "%Y-%m-%d",  # '2016-09-05'
    "%Y/%m/%d",  # '2016/09/05'
    "%Y年%m月%d日",  # '2016年9月5日'
]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",  # <input type="datetime-local">
]
