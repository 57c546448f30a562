"""Someone else's project, as the README's "Testing your integration with firstin" tells it: the wheels `make dist`
builds, a fresh environment outside this checkout, the README's `pip install` line run as written, and the README's
example test run there with pytest.

No network: pip gets `PIP_NO_INDEX`, so every firstin package must come from the wheels through the firstin-stack
wheel's own requirements. The third-party packages those wheels need come first, from uv's cache (filled by the
workspace sync that `make test` starts with), pinned by uv.lock: what a user's pip would fetch from the index.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Testing your integration with firstin", 1)[1].split("\n## ", 1)[0]
DIST_PLACEHOLDER = "path/to/firstin/dist"
# What the user's shell passes on; nothing of this test session's own settings (FIRSTIN_*, PYTEST_*, MAKEFLAGS).
PASSED_ON = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")


def readme_block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", SECTION, re.DOTALL)
    assert blocks, f"the README's integration section has no {language} block"
    return str(blocks[0])


def install_line() -> str:
    lines = [line.split("#", 1)[0].strip() for line in readme_block("sh").splitlines()]
    installs = [line for line in lines if line.startswith("pip install")]
    assert len(installs) == 1, f"expected one `pip install` line in the README's integration section: {lines}"
    assert DIST_PLACEHOLDER in installs[0]
    return installs[0]


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"  # where the Makefile puts it
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    assert on_path, "no uv: run the tests with `make test`, which installs it"
    return on_path


def run(command: list[str] | str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=env, shell=isinstance(command, str), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command} exited with {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def workspace_packages() -> set[str]:
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    manifests = [path for member in members for path in ROOT.glob(f"{member}/pyproject.toml")]
    return {tomllib.loads(path.read_text())["project"]["name"].replace("-", "_") for path in manifests}


@pytest.mark.slow
def test_the_readme_installs_the_plugin_into_another_project_and_its_example_passes(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    offline = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")} | {"UV_OFFLINE": "1"}
    run(["make", "--no-print-directory", "-C", str(ROOT), "dist", f"DIST={dist}"], env=offline)
    built = {wheel.name.split("-", 1)[0] for wheel in dist.glob("*.whl")}
    assert built == workspace_packages(), "`make dist` builds one wheel per workspace package"

    project = tmp_path / "their-project"
    project.mkdir()
    venv = project / ".venv"
    run([sys.executable, "-m", "venv", str(venv)])
    third_party = tmp_path / "pylock.toml"
    export = ["export", "--frozen", "--no-dev", "--package", "firstin-stack", "--no-emit-workspace", "--quiet"]
    run([uv(), *export, "--format", "pylock.toml", "--output-file", str(third_party)], cwd=ROOT, env=offline)
    run([uv(), "pip", "install", "--offline", "--python", str(venv / "bin" / "python"), "-r", str(third_party)])

    # The user's shell, with their project's environment activated.
    shell = {key: os.environ[key] for key in PASSED_ON if key in os.environ} | {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,  # pip as it comes: no find-links or index of this machine's configuration
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    command = install_line().replace(DIST_PLACEHOLDER, shlex.quote(str(dist)))
    run(command, cwd=project, env=shell)

    (project / "test_checkout.py").write_text(readme_block("python"))
    tests = subprocess.run(
        ["pytest", "-p", "no:cacheprovider"], cwd=project, env=shell, capture_output=True, text=True, timeout=300
    )
    assert tests.returncode == 0 and "1 passed" in tests.stdout, tests.stdout[-5000:] + tests.stderr[-2000:]
