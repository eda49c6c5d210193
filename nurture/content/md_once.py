"""Whether a Markdown template's skeleton alone tells its source (`md.render_both`).

`render_both` renders a step twice: once with placeholders for the values (the skeleton),
once as it is, and keeps the skeleton only if it fills back to exactly that source. The
second render can be left out when nothing in the template reads its own output back:
then both renders take the same path through it, and the output differs only where a value
is written, which is what the placeholders stand for.

A Jinja template reads output back only through what captures it: `{% set %}` and
`{% filter %}` blocks, macros and `{% call %}` (`caller()`), blocks (`self.x()`,
`super()`), a recursive loop (`loop(...)`), and other templates (`{% include %}`,
`{% extends %}`, `{% import %}`). A template with none of these renders once; anything
else is rendered twice, as before.
"""

from __future__ import annotations

from jinja2 import nodes

#: Nodes through which a template can capture output, or run another template.
_CAPTURING = (
    nodes.AssignBlock,
    nodes.FilterBlock,
    nodes.Macro,
    nodes.CallBlock,
    nodes.Block,
    nodes.Extends,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Scope,
    nodes.OverlayScope,
    nodes.EvalContextModifier,
)
#: Names that reach rendered output: blocks, the caller of a `{% call %}`, a macro's extras.
_CAPTURING_NAMES = frozenset({"self", "super", "caller", "varargs", "kwargs"})


def renders_once(template: nodes.Template) -> bool:
    """Whether the skeleton of `template` (parsed) fills to its source without a second
    render: no node of it captures output or runs another template."""
    for node in template.find_all((nodes.Node,)):
        if isinstance(node, _CAPTURING) or (isinstance(node, nodes.For) and node.recursive):
            return False
        if isinstance(node, nodes.Name) and node.name in _CAPTURING_NAMES:
            return False
    return True
