"""nginx serving small static files: a target that is not the bottleneck (bench-load, bench-proxy).

Debian's nginx, one worker process, no access log, keep-alive without a request limit, on a free
loopback port, everything (config, pid, temp folders) under the caller's folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stack.procs import Proc, free_port, spawn_ready

STATIC_PATH = "/static.txt"
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
{exact}    }}
}}
"""


def start_nginx(workdir: Path, files: dict[str, str] | None = None) -> tuple[Proc, str]:
    """nginx on a free port serving STATIC_PATH ("hello\\n") and `files` (path -> text);
    returns (proc, url)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = (workdir / "nginx").resolve()
    files = {STATIC_PATH: "hello\n", **(files or {})}
    exact = ""
    for path, text in files.items():
        if any(other.startswith(path + "/") for other in files):
            # also a folder (/api/projects and /api/projects/1): kept beside it, served as is
            exact += f"        location = {path} {{ try_files {path}.file =404; }}\n"
            path += ".file"
        target = root / "www" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, exact=exact))
    url = f"http://127.0.0.1:{port}"
    proc = spawn_ready("nginx", [nginx, "-c", str(conf), "-p", str(root)], root / "nginx.log",
                       url + STATIC_PATH)
    return proc, url
