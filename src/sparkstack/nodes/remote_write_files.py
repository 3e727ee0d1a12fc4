# Write the files given as JSON on stdin when their content differs; print CHANGED <path> for each
# (sparkstack). Runs as root through sudo so it can write /etc and the systemd units.
import json, os, pwd, sys, tempfile
request = json.load(sys.stdin)
for path, owner in request["dirs"].items():
    os.makedirs(path, exist_ok=True)
    entry = pwd.getpwnam(owner)
    os.chown(path, entry.pw_uid, entry.pw_gid)
for path, spec in request["files"].items():
    data = spec["content"].encode()
    try:
        with open(path, "rb") as handle:
            same = handle.read() == data and (os.stat(path).st_mode & 0o777) == spec["mode"]
    except OSError:
        same = False
    if same:
        continue
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, spec["mode"])
    owner = pwd.getpwnam(spec["owner"])
    os.chown(tmp, owner.pw_uid, owner.pw_gid)
    os.replace(tmp, path)
    print("CHANGED " + path)
