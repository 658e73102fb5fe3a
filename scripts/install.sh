#!/bin/sh
# jkfp 离线安装 install.sh PREFIX — installs this release bundle into PREFIX with `pip --no-index`:
# nothing is fetched from outside (docs/deploy.md). Run it again with a newer bundle to upgrade.
#   PREFIX/venv     the Python environment (jkfp and its dependencies, from wheels/)
#   PREFIX/static   the collected static files     PREFIX/jkfp.env  the configuration (kept on upgrade)
#   PREFIX/bin/jkfp the command, reading jkfp.env   PREFIX/share     docs/ and deploy/ of this release
set -eu
if [ $# -ne 1 ]; then
  echo "用法 usage: $0 PREFIX   (例如 e.g. $0 /opt/jkfp)" >&2
  exit 2
fi
PREFIX=$(mkdir -p "$1" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=$(cat "$HERE/VERSION")
PYTHON=${PYTHON:-python3}

if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' 2>/dev/null; then
  echo "需要 Python 3.11–3.13（当前：$("$PYTHON" --version 2>&1)）；可用 PYTHON=/path/to/python3.x 指定 / Python 3.11-3.13 needed" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "缺少 venv 模块：Debian/Ubuntu 上请安装 python3-venv / the venv module is missing: install python3-venv" >&2
  exit 1
fi

echo "安装 jkfp $VERSION 到 $PREFIX / installing jkfp $VERSION into $PREFIX"
if [ ! -x "$PREFIX/venv/bin/python" ]; then
  "$PYTHON" -m venv "$PREFIX/venv"
fi
# The venv's python is a link to $PYTHON: the service user (JKFP_USER, default jkfp, as in
# docs/deploy.md) must be able to run it (a Python under /root, e.g. pyenv's, cannot be run by it).
JKFP_USER=${JKFP_USER:-jkfp}
if [ "$(id -u)" = 0 ] && id "$JKFP_USER" >/dev/null 2>&1 && command -v runuser >/dev/null \
    && ! runuser -u "$JKFP_USER" -- "$PREFIX/venv/bin/python" -c '' 2>/dev/null; then
  echo "用户 $JKFP_USER 无法运行 $("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.executable))')：" \
    "请删除 $PREFIX/venv 后用系统的 Python 重装，如 PYTHON=/usr/bin/python3 $0 $1" \
    "/ the $JKFP_USER user cannot run this Python: remove $PREFIX/venv and use the system's, e.g. PYTHON=/usr/bin/python3" >&2
  exit 1
fi
PIP_CONFIG_FILE=/dev/null "$PREFIX/venv/bin/python" -m pip install --quiet --no-index --no-cache-dir \
  --disable-pip-version-check --find-links "$HERE/wheels" --upgrade "jkfp==$VERSION"

# Static files: replaced whole (an upgrade's hashed names differ).
rm -rf "$PREFIX/static.new"
cp -R "$HERE/static" "$PREFIX/static.new"
rm -rf "$PREFIX/static"
mv "$PREFIX/static.new" "$PREFIX/static"

# The CJK font of the PDFs, where jkfp looks for it (jkfp.core.fonts).
mkdir -p "$PREFIX/venv/share/jkfp/fonts"
cp "$HERE"/fonts/* "$PREFIX/venv/share/jkfp/fonts/"

mkdir -p "$PREFIX/share" "$PREFIX/bin"
rm -rf "$PREFIX/share/docs" "$PREFIX/share/deploy"
cp -R "$HERE/docs" "$HERE/deploy" "$PREFIX/share/"
cp "$HERE/CHANGELOG.md" "$HERE/VERSION" "$PREFIX/share/"
if [ ! -f "$PREFIX/jkfp.env" ]; then
  sed "s|@PREFIX@|$PREFIX|g" "$HERE/deploy/jkfp.env" > "$PREFIX/jkfp.env"
  chmod 640 "$PREFIX/jkfp.env"
  echo "已写入配置 $PREFIX/jkfp.env：请按 docs/deploy.md 修改 / edit the configuration written there"
fi
for unit in "$PREFIX"/share/deploy/systemd/*.service "$PREFIX"/share/deploy/nginx/jkfp.conf; do
  sed -i "s|/opt/jkfp|$PREFIX|g" "$unit"
done
cat > "$PREFIX/bin/jkfp" <<WRAPPER
#!/bin/sh
# jkfp with the installation's configuration ($PREFIX/jkfp.env), as the services run it.
set -a
[ -r "$PREFIX/jkfp.env" ] && . "$PREFIX/jkfp.env"
set +a
exec "$PREFIX/venv/bin/jkfp" "\$@"
WRAPPER
chmod 755 "$PREFIX/bin/jkfp"
echo "完成。下一步：$PREFIX/bin/jkfp init（见 $PREFIX/share/docs/deploy.md）/ done; next: $PREFIX/bin/jkfp init"
