#!/usr/bin/env python3
"""Build the project's container images without Docker or a registry, as OCI archives.

    hack/images/build.py IMAGE            # operator | reports | model | pause; prints the archive's path
    hack/images/build.py --lock IMAGE     # (re)write the image's lock file from the package index

Recipe (hack/images/images.json, kept in agreement with the Dockerfiles by tests/images):
  1. the Python distributions of the lock file (and the project's own wheel) are built or fetched as
     wheels on the host with `pip wheel` (pip inside the root filesystem cannot reach the index here);
  2. `mmdebstrap --variant=minbase` makes a Debian root filesystem with Debian's python3, in which pip
     (run from the host Python's bundled pip wheel) installs exactly those wheels, with --no-deps;
  3. the root filesystem becomes one gzip layer of an OCI image layout, written as a tar archive that
     `ctr images import`, `kind load image-archive` and `docker load` accept.

Archives are cached by content hash (recipe, RECIPE_VERSION, every source file) under
$SLO_CACHE/images (default ~/.cache/slo-operator/images): a warm call returns at once. Concurrent
callers wait on a lock instead of building twice. Progress goes to stderr; the path to stdout.
Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import ensurepip
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RECIPES = Path(__file__).with_name("images.json")
CACHE = Path(os.environ.get("SLO_CACHE") or Path.home() / ".cache" / "slo-operator") / "images"
SUITE = "bookworm"
MIRROR = os.environ.get("SLO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Bump when this script changes what it builds (the script itself is not hashed, so that editing its
# comments or progress output does not rebuild every image).
RECIPE_VERSION = "1"
EXCLUDED_PATHS = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*",
                  "/usr/share/lintian/*"]
PYTHON_SITE = "/usr/local/lib/python3.11/dist-packages"
T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[images] {message} ({time.monotonic() - T0:.0f}s)", file=sys.stderr, flush=True)


def recipes() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in json.loads(RECIPES.read_text()).items() if not k.startswith("_")}


def full_name(name: str) -> str:
    """Name as containerd stores it (what the kubelet asks for `slo-operator/operator:0.1.0`)."""
    first = name.split("/", 1)[0]
    if "/" not in name:
        return f"docker.io/library/{name}"
    if "." in first or ":" in first or first == "localhost":
        return name
    return f"docker.io/{name}"


def content_hash(key: str, recipe: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{RECIPE_VERSION}\n{SUITE}\n{key}\n".encode())
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    for source in recipe["sources"]:
        path = REPO / source
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix in (".pyc", ".pyo"):
                continue
            digest.update(str(file.relative_to(REPO)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def pip() -> list[str]:
    return [os.environ.get("PYTHON") or sys.executable, "-m", "pip"]


def run(cmd: list[str], **kwargs: Any) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def write_lock(key: str, recipe: dict[str, Any]) -> None:
    """Resolve the image's distributions against the index (host pip) and pin them all."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        if recipe["project"]:
            extras = "[reports]" if key == "reports" else ""
            target = [f"{REPO}{extras}"]
        else:
            target = ["-r", str(REPO / "model_service" / "requirements.txt")]
        run([*pip(), "install", "--quiet", "--dry-run", "--ignore-installed", "--report", str(report),
             *target])
        installs = json.loads(report.read_text())["install"]
    pins = sorted(
        f"{item['metadata']['name'].lower().replace('_', '-')}=={item['metadata']['version']}"
        for item in installs
        if item["metadata"]["name"].lower() != "slo-operator"
    )
    header = (f"# Every Python distribution of the {key} image, pinned (both its Dockerfile and\n"
              f"# hack/images/build.py install exactly these, --no-deps). Regenerate: make image-locks\n")
    (REPO / recipe["lock"]).write_text(header + "\n".join(pins) + "\n")
    log(f"wrote {recipe['lock']} ({len(pins)} distributions)")


def build_wheels(recipe: dict[str, Any], target: Path) -> None:
    target.mkdir(parents=True)
    log("pip wheel: the lock file's distributions (pip's cache makes this fast when warm)")
    run([*pip(), "wheel", "--quiet", "--no-deps", "--only-binary=:all:", "--wheel-dir", str(target),
         "-r", str(REPO / recipe["lock"])])
    if recipe["project"]:
        log("pip wheel: the project")
        run([*pip(), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(REPO)])


def pip_wheel_path() -> Path:
    bundled = Path(ensurepip.__file__).parent / "_bundled"
    found = sorted(bundled.glob("pip-*.whl"))
    if not found:
        raise SystemExit("build.py: the host Python has no bundled pip wheel (ensurepip)")
    return found[-1]


def rootfs(key: str, recipe: dict[str, Any], wheels: Path, out: Path) -> None:
    """mmdebstrap a minimal Debian with python3, install the wheels, add the account, run steps."""
    uid, gid = recipe["user"].split(":")
    account = recipe["account"]
    chroot_env = "chroot \"$1\" env PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore"
    chroot_pip = f"{chroot_env} python3 /tmp/pip.whl/pip"
    debs = CACHE / "debs"  # .deb files shared by every image: only the first cold build downloads
    debs.mkdir(parents=True, exist_ok=True)
    hooks = [
        f'sync-out /var/cache/apt/archives "{debs}"',
        f'cp -a "{wheels}" "$1/tmp/wheels" && cp "{pip_wheel_path()}" "$1/tmp/pip.whl"',
        # The glob is expanded inside the root filesystem, not on the host.
        f"{chroot_env} sh -c 'python3 /tmp/pip.whl/pip install --quiet --no-index --no-deps "
        "--break-system-packages /tmp/wheels/*.whl'",
        f"{chroot_pip} check",
        f'chroot "$1" python3 -m compileall -q {PYTHON_SITE}',
        # The account the image runs as: kopf (and getpass) ask the OS for the uid's name.
        f"echo '{account}:x:{gid}:' >> \"$1/etc/group\"",
        f"echo '{account}:x:{uid}:{gid}:{account}:/nonexistent:/usr/sbin/nologin' >> \"$1/etc/passwd\"",
        f"echo '{account}:*:19000:0:99999:7:::' >> \"$1/etc/shadow\"",
    ]
    for source, dest in recipe["copy"].items():
        hooks.append(f'mkdir -p "$1{dest}" && cp -a "{REPO / source}/." "$1{dest}/" '
                     f'&& find "$1{dest}" -name __pycache__ -prune -exec rm -rf {{}} +')
    env = " ".join(f"{k}={v}" for k, v in recipe["env"].items())
    for step in recipe["run"]:
        hooks.append(f"chroot \"$1\" env {env} sh -c '{step}'")
    hooks.append('rm -rf "$1/tmp/wheels" "$1/tmp/pip.whl" "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* '
                 '"$1"/var/log/* "$1"/root/.cache')
    cmd = ["mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", "--format=tar",
           f"--include={','.join(recipe['debian'])}", "--skip=download/empty", "--skip=essential/unlink",
           f'--setup-hook=mkdir -p "$1/var/cache/apt/archives/"',
           f'--setup-hook=sync-in "{debs}" /var/cache/apt/archives/']
    cmd += [f"--dpkgopt=path-exclude={p}" for p in EXCLUDED_PATHS]
    cmd += [f"--customize-hook={hook}" for hook in hooks]
    cmd += [SUITE, str(out), MIRROR]
    log(f"mmdebstrap {SUITE} minbase + {', '.join(recipe['debian'])} (cold ~2-4 min: downloads .debs)")
    env_vars = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    run(["nice", *cmd], env=env_vars)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_archive(recipe: dict[str, Any], rootfs_tar: Path, out: Path) -> None:
    """One-layer OCI image layout (plus docker's manifest.json) in a deterministic tar."""
    log("writing the OCI layout")
    raw = rootfs_tar.read_bytes()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    layer = buffer.getvalue()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": recipe["user"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    *(f"{k}={v}" for k, v in recipe["env"].items())],
            "Entrypoint": recipe["entrypoint"],
            "WorkingDir": recipe["workdir"],
            "ExposedPorts": {port: {} for port in recipe["ports"]},
            "Labels": {"org.opencontainers.image.title": recipe["name"]},
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
        "history": [{"created_by": "hack/images/build.py (mmdebstrap + pip wheels)"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer), "size": len(layer)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    name = full_name(recipe["name"])
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(manifest_bytes),
            "size": len(manifest_bytes),
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": recipe["name"].rsplit(":", 1)[1]},
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }
    docker = [{"Config": f"blobs/sha256/{sha256(config_bytes)[7:]}", "RepoTags": [recipe["name"]],
               "Layers": [f"blobs/sha256/{sha256(layer)[7:]}"]}]
    entries = [
        ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
        ("index.json", json.dumps(index, indent=2).encode()),
        ("manifest.json", json.dumps(docker).encode()),
        (f"blobs/sha256/{sha256(config_bytes)[7:]}", config_bytes),
        (f"blobs/sha256/{sha256(manifest_bytes)[7:]}", manifest_bytes),
        (f"blobs/sha256/{sha256(layer)[7:]}", layer),
    ]
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, data in entries:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(out)
    log(f"{recipe['name']}: layer {len(layer) / 2**20:.0f} MiB compressed, {len(raw) / 2**20:.0f} MiB raw")


PAUSE = {
    "name": "slo-operator/pause:3.10",
    "sources": ["hack/images/pause/main.go"],
    "user": "65535:65535",
    "env": {},
    "entrypoint": ["/pause"],
    "workdir": "/",
    "ports": [],
}


def pause_rootfs(out: Path, work: Path) -> None:
    """The node's sandbox image: one static Go binary (nothing can be pulled from a registry here)."""
    log("go build: pause")
    binary = work / "pause"
    env = {**os.environ, "CGO_ENABLED": "0", "GOWORK": "off", "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    go = shutil.which("go") or "/usr/local/go/bin/go"
    run([go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary),
         str(REPO / "hack/images/pause/main.go")], env=env)
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as tar:
        info = tar.gettarinfo(str(binary), arcname="pause")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime, info.mode = 0, 0o755
        with open(binary, "rb") as handle:
            tar.addfile(info, handle)


def archive_path(key: str) -> Path:
    recipe = PAUSE if key == "pause" else recipes()[key]
    return CACHE / f"{key}-{content_hash(key, recipe)}.oci.tar"


def build(key: str) -> Path:
    recipe = PAUSE if key == "pause" else recipes()[key]
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = archive_path(key)
    if archive.is_file():
        return archive
    with open(CACHE / f".{key}.lock", "w") as lock:
        if archive.is_file():
            return archive
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another build of {key} is running: waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.is_file():
            return archive
        if key != "pause" and not shutil.which("mmdebstrap"):
            raise SystemExit("build.py: mmdebstrap not found (make node-packages installs it)")
        log(f"building {recipe['name']} -> {archive}")
        with tempfile.TemporaryDirectory(dir=CACHE, prefix=f"tmp-{key}-") as tmp:
            work = Path(tmp)
            if key == "pause":
                pause_rootfs(work / "rootfs.tar", work)
            else:
                build_wheels(recipe, work / "wheels")
                rootfs(key, recipe, work / "wheels", work / "rootfs.tar")
            oci_archive(recipe, work / "rootfs.tar", archive)
        for old in CACHE.glob(f"{key}-*.oci.tar"):  # keep only the current archive of this image
            if old != archive:
                old.unlink(missing_ok=True)
        log(f"built {recipe['name']}")
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", choices=[*sorted(recipes()), "pause"])
    parser.add_argument("--lock", action="store_true", help="rewrite the lock file instead of building")
    parser.add_argument("--cached", action="store_true",
                        help="print the archive's path if it is built and current; exit 3 if not (no build)")
    args = parser.parse_args()
    if args.lock:
        write_lock(args.image, recipes()[args.image])
        return
    if args.cached:
        archive = archive_path(args.image)
        if not archive.is_file():
            print(f"build.py: the {args.image} image is not built or stale: run `make images`", file=sys.stderr)
            sys.exit(3)
        print(archive)
        return
    print(build(args.image))


if __name__ == "__main__":
    main()
