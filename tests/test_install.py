"""The installed famcli, as a user on a fresh machine runs it: the console script from a folder outside the
repository, without PYTHONPATH, beside transformers and its own `kernels` dependency (Hugging Face's hub
kernels). These checks failed on the layout that installed famcli's kernels as a top-level `kernels` package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OUTSIDE, USER_ENV, famcli_process

REPO = Path(__file__).resolve().parents[1]


def fresh_python(code: str, cwd: Path = OUTSIDE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=USER_ENV, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("where", ["outside", "root"])
def test_famcli_kernels_and_hub_kernels_do_not_shadow_each_other(where):
    """famcli's kernels import as famcli_kernels (their dispatch as famcli.kernels); `kernels` stays the hub package
    that transformers imports, also from the repository's root, where `python -c` and `python -m pytest` put the
    checkout first on the path (the kernels/ folder has no __init__.py, so it never shadows a regular package)."""
    code = ("import json, famcli.kernels, famcli_kernels.reference, kernels, transformers.modeling_utils\n"
            "print(json.dumps([famcli_kernels.reference.__file__, kernels.__file__, hasattr(kernels, 'get_kernel'),"
            " callable(famcli.kernels.block_attention)]))")
    done = fresh_python(code, OUTSIDE if where == "outside" else REPO)
    assert done.returncode == 0, done.stderr
    ours, theirs, hub, dispatch = json.loads(done.stdout)
    assert Path(ours).resolve() == REPO / "kernels" / "reference.py" or "site-packages" in ours
    assert Path(theirs).resolve().parent != (REPO / "kernels") and hub and dispatch


def test_no_installed_import_name_is_shared_with_another_distribution():
    code = ("import json, importlib.metadata as m\n"
            "names = m.packages_distributions()\n"
            "print(json.dumps({k: v for k, v in names.items() if 'famcli' in v}))")
    done = fresh_python(code)
    assert done.returncode == 0, done.stderr
    ours = json.loads(done.stdout)
    assert "famcli" in ours and "kernels" not in ours
    assert all(owners == ["famcli"] for name, owners in ours.items() if not name.startswith("__editable__")), ours


def test_every_famcli_package_is_in_the_wheel():
    """pyproject.toml lists famcli's packages by name; a package left out of it works from the editable install
    the suite uses and is missing from a wheel (famcli.answer was, once)."""
    import tomllib
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "famcli").rglob("__init__.py")}
    assert folders - listed == set(), "packages missing from pyproject.toml's [tool.setuptools] packages"


def test_installed_command_runs_outside_the_repository():
    done = famcli_process(["--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ask" in done.stdout, done.stderr


@pytest.mark.slow
def test_installed_command_answers_on_the_default_model(tmp_path):
    """The README's first job, as a user runs it: `famcli info`, then `famcli ask` on a short file."""
    info = famcli_process(["info", "--json"], capture_output=True, text=True, timeout=600)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["architecture"] == "llama"
    doc = tmp_path / "letter.txt"
    doc.write_text("Dear Tom,\n\nThe boat leaves from the harbour at Kestrel Bay on Monday. The captain's dog is "
                   "called Biscuit, and he sleeps on the deck all day.\n\nYours, Anna\n")
    done = famcli_process(["ask", doc, "What is the name of the captain's dog?", "-q"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Biscuit" in done.stdout and "Traceback" not in done.stderr


def test_the_library_never_imports_its_command_line():
    """Only famcli/cli and the entry points import famcli.cli: the library is usable without it (docs/design.md,
    section 11). Imports inside functions count too."""
    import ast
    from pathlib import Path

    import famcli

    root = Path(famcli.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("cli/") or rel == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{rel}: {n}" for n in names if n == "famcli.cli" or n.startswith("famcli.cli.")]
    assert offenders == []


def test_batch_finds_every_kind_of_document_famcli_reads(tmp_path):
    from famcli.batch.runner import find_documents

    for name in ("a.txt", "b.xhtml", "c.htm", "d.epub", "e.log.zst", "f.png", "g.py"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in find_documents([str(tmp_path)])] == ["a.txt", "b.xhtml", "c.htm", "d.epub", "e.log.zst"]


def test_famcli_modules_import_without_cycles_and_only_downwards():
    """The import graph of famcli's modules, imports inside functions included (examples/import_graph.py): no
    cycle, no sub-package importing one above it (docs/design.md, section 11: so the library never imports
    famcli.cli), and no module left in famcli/ itself but the package's face."""
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "import_graph.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    shape = json.loads(run.stdout)
    assert shape["cycles"] == [] and shape["upward_imports"] == [] and shape["root_modules"] == [], shape
    assert run.returncode == 0 and shape["modules"] > 60
