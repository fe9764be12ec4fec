"""The README's Python blocks run as written (the C++ blocks are compiled by the build): the documentation
cannot drift from the package."""
import pathlib
import re


def test_readme_python_blocks_run():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has no Python example"
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i}", "exec"), {})  # noqa: S102 - our own README
