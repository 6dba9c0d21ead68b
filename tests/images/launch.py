"""Run a command in an image's root filesystem the way the chart's pod runs it.

buildah's chroot isolation cannot make the root filesystem read-only, so the tests start the
images' processes with this instead: run as root under ``unshare --mount``, it mounts the
root filesystem (a ``buildah mount`` directory) read-only, gives it ``/proc``, a minimal
``/dev``, a size-capped ``/tmp`` (the pod's emptyDir) and the requested bind mounts (Secret
volumes), then enters it as the image's numeric user and executes the command in place, so
the caller's process *is* the image's process (signals reach it directly). The network is
the host's: the tests' servers on 127.0.0.1 are reachable, as in a pod's shared loopback.

Usage: ``unshare --mount --propagation private python launch.py ROOT UID:GID SPEC.json``,
with the spec holding ``argv``, ``env``, ``workdir`` and ``binds`` ([source, target, ro]).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def prepare(root: Path, binds: list[tuple[str, str, bool]]) -> None:
    mount("--bind", str(root), str(root))
    mount("-o", "remount,bind,ro", str(root))
    mount("-t", "proc", "proc", str(root / "proc"))
    mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", str(root / "dev"))
    for device in DEVICES:
        (root / "dev" / device).touch()
        mount("--bind", f"/dev/{device}", str(root / "dev" / device))
    (root / "dev" / "shm").mkdir()
    mount(
        "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=16m", "tmpfs", str(root / "dev" / "shm")
    )
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=64m", "tmpfs", str(root / "tmp"))
    mount("-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", str(root / "run"))
    for source, target, read_only in binds:
        inside = root / target.lstrip("/")
        if not target.startswith("/run/"):
            raise SystemExit(f"bind targets go under /run (the rest is read-only): {target}")
        inside.mkdir(parents=True, exist_ok=True)
        mount("--bind", source, str(inside))
        if read_only:
            mount("-o", "remount,bind,ro", str(inside))


def main() -> None:
    root, user, spec_file = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    spec = json.loads(spec_file.read_text())
    prepare(root, [(s, t, bool(ro)) for s, t, ro in spec["binds"]])
    uid, _, gid = user.partition(":")
    os.chroot(root)
    os.chdir(spec["workdir"] or "/")
    os.setgroups([])
    os.setgid(int(gid or uid))
    os.setuid(int(uid))
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main()
