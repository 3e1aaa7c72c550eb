"""Render the nginx configuration of a GridMap deployment (deploy/nginx/gridmap.conf.in).

``python -m deploy.render --app 10.0.0.11:8501 --app 10.0.0.12:8501 --api 127.0.0.1:8311
--server-name gridmap.example.gov.cn --certificate /etc/ssl/… --certificate-key /etc/ssl/…``
prints the site file for /etc/nginx/sites-available/. ``--standalone DIR`` wraps it in a
whole nginx.conf whose pid, logs and temporary files live in DIR, for a trial run as any
user (``nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'``); the proxy test runs it so.
"""

from __future__ import annotations

import argparse
import os
import pwd
import string
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx") / "gridmap.conf.in"


class _Fields(string.Template):
    # nginx variables are written $name: the template's own fields are @{name}.
    delimiter = "@"


def render_site(*, app_servers: Sequence[str], api_servers: Sequence[str], certificate: Path,
                certificate_key: Path, server_name: str = "_", https_listen: str = "443",
                http_listen: str = "80",
                access_log: str = "/var/log/nginx/gridmap.access.log") -> str:
    """Return the site configuration: upstreams, the HTTPS server and the HTTP redirect.

    Parameters
    ----------
    app_servers, api_servers : sequence of str
        ``host:port`` of each Streamlit server and each Open311 API server.
    certificate, certificate_key : Path
        The TLS certificate (full chain) and its private key, in PEM.
    server_name : str
        The site's host name(s), as nginx's ``server_name``; ``_`` answers any.
    https_listen, http_listen : str
        What each server listens on, as nginx's ``listen`` (``443``, ``127.0.0.1:8443``).
    access_log : str
        The access log, in the ``gridmap`` format (which app server answered, the route).

    Raises
    ------
    ValueError
        No app server or no API server.

    """
    if not app_servers or not api_servers:
        raise ValueError("at least one app server and one API server are needed")
    port = https_listen.rsplit(":", 1)[-1]
    return _Fields(TEMPLATE.read_text()).substitute(
        app_servers="\n".join(f"    server {s} max_fails=3 fail_timeout=10s;"
                              for s in app_servers),
        api_servers="\n".join(f"    server {s};" for s in api_servers),
        certificate=certificate, certificate_key=certificate_key, server_name=server_name,
        https_listen=https_listen, http_listen=http_listen, access_log=access_log,
        https_port_suffix="" if port == "443" else f":{port}")


def render_standalone(site: str, prefix: Path) -> str:
    """Return a whole nginx.conf around ``site`` whose state files all live in ``prefix``."""
    temp = {name: prefix / f"{name}_temp" for name in
            ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    # Started as root, nginx would run its workers as nobody, who cannot enter a private
    # DIR (pytest's tmp_path is 0700): keep them the caller's.
    user = [f"user {pwd.getpwuid(os.geteuid()).pw_name};"] if os.geteuid() == 0 else []
    return "\n".join([
        *user,
        f"pid {prefix / 'nginx.pid'};",
        f"error_log {prefix / 'error.log'} info;",
        "worker_processes 1;",
        "events { worker_connections 1024; }",
        "http {",
        *(f"    {name}_temp_path {path};" for name, path in temp.items()),
        "    access_log off;",
        site,
        "}",
        ""])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the site (or, with ``--standalone``, write a whole nginx.conf)."""
    parser = argparse.ArgumentParser(prog="python -m deploy.render", description=__doc__)
    parser.add_argument("--app", action="append", required=True, metavar="HOST:PORT",
                        help="a Streamlit server (repeat for each)")
    parser.add_argument("--api", action="append", required=True, metavar="HOST:PORT",
                        help="an Open311 API server (gridmap api)")
    parser.add_argument("--certificate", type=Path, required=True)
    parser.add_argument("--certificate-key", type=Path, required=True)
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--https-listen", default="443")
    parser.add_argument("--http-listen", default="80")
    parser.add_argument("--access-log", default="/var/log/nginx/gridmap.access.log")
    parser.add_argument("--standalone", type=Path, default=None, metavar="DIR",
                        help="write DIR/nginx.conf, with pid, logs and temp files in DIR")
    args = parser.parse_args(argv)
    site = render_site(app_servers=args.app, api_servers=args.api,
                       certificate=args.certificate, certificate_key=args.certificate_key,
                       server_name=args.server_name, https_listen=args.https_listen,
                       http_listen=args.http_listen, access_log=args.access_log)
    if args.standalone is None:
        print(site, end="")
        return 0
    prefix = args.standalone.resolve()
    conf = prefix / "nginx.conf"
    conf.write_text(render_standalone(site, prefix))
    print(conf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
