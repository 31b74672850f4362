"""Every exception wfnb defines lives in wfnb/engine/core/errors.py and can be caught as wfnb.X."""
import ast
import inspect
from pathlib import Path

import wfnb
from wfnb.engine.core import errors

PACKAGE = Path(wfnb.__file__).parent


def exception_classes_outside_errors() -> list[str]:
    """Classes whose bases name an exception (…Error, …Exception, a class of errors.py)."""
    known = {name for name, obj in vars(errors).items() if inspect.isclass(obj)}
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path == Path(errors.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                         for b in node.bases}
                if any(b in known or b.endswith(("Error", "Exception")) for b in bases):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    return found


def test_no_exception_class_is_defined_outside_errors_py():
    assert exception_classes_outside_errors() == []


def test_every_exception_is_exported_from_wfnb():
    defined = {name: obj for name, obj in vars(errors).items()
               if inspect.isclass(obj) and issubclass(obj, BaseException)
               and obj.__module__ == errors.__name__}
    assert len(defined) >= 25
    missing = [name for name in defined if getattr(wfnb, name, None) is not defined[name]]
    assert missing == []
    assert set(defined) <= set(wfnb.__all__)


def test_what_a_user_catches_derives_from_wfnberror():
    # those that carry a step's own failure between threads and processes too (StepFailed)
    others = {name for name, obj in vars(errors).items()
              if inspect.isclass(obj) and issubclass(obj, BaseException)
              and not issubclass(obj, errors.WfnbError)}
    assert others == set()
    assert issubclass(errors.NotebookFailed, errors.StepFailed)
    assert issubclass(errors.RemoteStepError, errors.StepFailed)
