"""A `docker` for machines without a Docker engine: records its calls and "pushes" into (emulated) ECR.

`install(bin_dir, log)` writes an executable `docker` that runs this module. It answers `docker info`,
takes `docker login`'s password on stdin (recording only that one came), and for `docker buildx build
... --tag <registry>/<repository>:<tag> ... --metadata-file F --push` puts a new image manifest under
every tag with ECR's PutImage (so the digest is the one ECR computes) and writes buildx's metadata file
with that digest. Each build makes a different manifest, so a second release has a second digest, and
the image it supersedes stays in the repository, untagged, as on ECR (moto alone would delete it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

LOG_ENV = "FAKE_DOCKER_LOG"


def install(bin_dir: Path, log: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\nfrom tests.support.fake_docker import main\nmain()\n")
    docker.chmod(0o755)
    log.touch()
    return docker


def manifest() -> str:
    """A schema 2 manifest unique to this build."""
    unique = f"{time.time_ns():064x}"[-64:]
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": f"sha256:{unique}",
            },
            # moto's digest is the sha256 of the layer digests: a unique layer, a unique image
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1024,
                    "digest": f"sha256:{unique}",
                }
            ],
        }
    )


def push(tags: list[str]) -> str:
    """Put one new manifest under every tag; the digest ECR gives it."""
    import boto3

    digest = ""
    body = manifest()
    for reference in tags:
        registry, _, rest = reference.partition("/")
        repository, _, tag = rest.rpartition(":")
        region = registry.split(".")[3]  # <account>.dkr.ecr.<region>.amazonaws.com
        ecr = boto3.client("ecr", region_name=region)
        superseded = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]
        digest = ecr.put_image(repositoryName=repository, imageManifest=body, imageTag=tag)["image"]["imageId"][
            "imageDigest"
        ]
        held = {i["imageDigest"] for i in ecr.describe_images(repositoryName=repository)["imageDetails"]}
        for image in superseded:
            # ECR keeps an image whose last tag moved to a newer one (untagged, until the lifecycle policy
            # expires it); moto deletes it. Put it back untagged, as ECR would hold it.
            if image["imageId"]["imageDigest"] not in held:
                ecr.put_image(repositoryName=repository, imageManifest=image["imageManifest"])
    return digest


def main() -> None:
    args = sys.argv[1:]
    log_path = os.environ.get(LOG_ENV) or str(Path(sys.argv[0]).resolve().parent / "docker.log")
    with Path(log_path).open("a") as log:
        log.write(json.dumps(args) + "\n")
        if args[:1] == ["info"]:
            print("27.3.1")
        elif args[:1] == ["login"]:
            log.write(json.dumps({"password_on_stdin": bool(sys.stdin.read().strip())}) + "\n")
        elif args[:2] == ["buildx", "build"]:
            tags = [args[i + 1] for i, a in enumerate(args) if a == "--tag"]
            metadata = args[args.index("--metadata-file") + 1]
            assert "--push" in args, "the release always pushes"
            Path(metadata).write_text(json.dumps({"containerimage.digest": push(tags)}))
        else:
            print(f"fake docker: unexpected call {args}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":  # python -m tests.support.fake_docker DIR: install it there (the README's emulator steps)
    target = Path(sys.argv[1]).resolve()
    install(target, target / "docker.log")
    print(f"{target / 'docker'} (calls logged to {target / 'docker.log'}): export PATH={target}:$PATH")
