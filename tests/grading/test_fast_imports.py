"""`atelier grade` imports nbgrader without setuptools (course_dir.fast_nbgrader_imports), and
what nbgrader takes from setuptools still works when it is used."""

from __future__ import annotations

import subprocess
import sys


def test_setuptools_is_imported_only_when_an_archive_is_unpacked(tmp_path: object) -> None:
    code = (
        "import os, sys, zipfile\n"
        "from promptatelier.grading.course_dir import fast_nbgrader_imports\n"
        "fast_nbgrader_imports()\n"
        "import nbgrader.coursedir, nbgrader.utils, nbgrader.api\n"
        "print('setuptools' in sys.modules)\n"
        f"root = {str(tmp_path)!r}\n"
        "archive = os.path.join(root, 'a.zip')\n"
        "zipfile.ZipFile(archive, 'w').writestr('notes.txt', 'hi')\n"
        "os.mkdir(os.path.join(root, 'out'))\n"
        "nbgrader.utils.unzip(archive, os.path.join(root, 'out'))\n"
        "print(os.listdir(os.path.join(root, 'out')) == ['notes.txt'], 'setuptools' in sys.modules)\n"
        "from setuptools.archive_util import UnrecognizedFormat\n"
        "import setuptools.wheel\n"
        "print(UnrecognizedFormat.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True", "setuptools.archive_util"]
