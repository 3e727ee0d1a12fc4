"""Runs ON A NODE (python3 -c, as root through sudo), never in the client.

Reads ``{"dirs": {path: [owner, mode]}, "files": {path: {content, mode, owner}}}`` as JSON on
stdin, makes the directories, writes each file whose content, mode or owner differs (atomically:
a temporary file renamed over it) and prints ``CHANGED <path>`` for each. Paths and contents are
data from JSON: nothing here goes through a shell.
"""

import json
import os
import pwd
import sys
import tempfile


def main() -> None:
    request = json.load(sys.stdin)
    for path, (owner, mode) in request["dirs"].items():
        os.makedirs(path, exist_ok=True)
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, mode)
    for path, spec in request["files"].items():
        data = spec["content"].encode()
        owner = pwd.getpwnam(spec["owner"])
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                same = (
                    handle.read() == data
                    and (info.st_mode & 0o777) == spec["mode"]
                    and info.st_uid == owner.pw_uid
                )
        except OSError:
            same = False
        if same:
            continue
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, spec["mode"])
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
        os.replace(tmp, path)
        print("CHANGED " + path)


if __name__ == "__main__":
    main()
