"""Runs the importing script under the project's venv (.venv/, launch/python_env.sh).

The data tools need torch 2.15 and torchvision from the venv; a user who runs
`data_tools/export_model.py` or `python3 data_tools/...` should not have to activate it first.
Imported before torch: when the running interpreter is not the venv's and the venv exists, the
script is executed again with the venv's Python (same arguments). Without a venv (a machine
without the package index) it runs on as it is, e.g. with Debian's python3-torch.
NXT_PYTHON_ANY=1 keeps whatever interpreter started the script.
"""
import os
import sys

_VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, ".venv")


def _reexec_in_venv():
    python = os.path.join(_VENV, "bin", "python")
    if os.environ.get("NXT_PYTHON_ANY") == "1" or not os.path.exists(python):
        return
    # A venv's interpreter is a symlink to the base one: compare prefixes, not executables.
    if os.path.realpath(sys.prefix) == os.path.realpath(_VENV):
        return
    os.execv(python, [python, os.path.abspath(sys.argv[0])] + sys.argv[1:])


_reexec_in_venv()
