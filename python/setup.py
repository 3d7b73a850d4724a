"""Puts the component and the kv script into the package before it is built.

Both come from the repository this folder sits in: `redis/kv_batch.lua` as
is, and the component from `cargo build` of `guest/` for wasm32-wasip2 (the
same build the Rust host embeds). `make python-assets` does the same.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGE = HERE / "agent_sessions"
BUILT_COMPONENT = REPO / "target" / "component" / "wasm32-wasip2" / "release" / "agent_sessions_guest.wasm"


def copy_assets() -> None:
    script = REPO / "redis" / "kv_batch.lua"
    if script.is_file():
        shutil.copyfile(script, PACKAGE / "kv_batch.lua")
    if not BUILT_COMPONENT.is_file() and (REPO / "guest" / "Cargo.toml").is_file():
        subprocess.run(
            [
                "cargo",
                "build",
                "--package",
                "agent-sessions-guest",
                "--lib",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
                str(REPO / "target" / "component"),
                "--config",
                "profile.release.lto=true",
                "--config",
                "profile.release.codegen-units=1",
            ],
            cwd=REPO,
            check=True,
        )
    if BUILT_COMPONENT.is_file():
        shutil.copyfile(BUILT_COMPONENT, PACKAGE / "agent_sessions.wasm")
    for name in ("agent_sessions.wasm", "kv_batch.lua"):
        if not (PACKAGE / name).is_file():
            raise SystemExit(
                f"agent_sessions/{name} is missing and the repository cannot provide it: "
                "build from a clone of the agent-sessions repository with Rust and the "
                "wasm32-wasip2 target installed (`make setup`)"
            )


class BuildWithAssets(build_py):
    def run(self) -> None:
        copy_assets()
        super().run()


setup(cmdclass={"build_py": BuildWithAssets})
