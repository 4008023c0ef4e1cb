"""Sandboxed Jinja2: escapes refused, limits enforced, errors reported with their line.

The checks are tested in this process; what the render processes add (the operating
system's limits) is in test_render_pool.py.
"""

import time

import pytest

from emailconfig.render_pool import render_template
from emailconfig.rendering import PartError, RenderError, compile_part, render_parts


def render_part(source, context, *, html=False, seconds=2.0):
    (outcome,) = render_parts([(source, html)], context, seconds=seconds)
    if outcome.error:
        raise outcome.error
    return outcome.text


def test_it_renders_subject_text_and_escaped_html():
    rendered = render_template(
        "Invoice {{ number }}",
        "Hello {{ name }}",
        "<p>Hello {{ name }}</p>",
        {"number": 42, "name": "<Ada & Co>"},
    )
    assert rendered.subject == "Invoice 42"
    assert rendered.text == "Hello <Ada & Co>"
    assert rendered.html == "<p>Hello &lt;Ada &amp; Co&gt;</p>"


def test_a_syntax_error_reports_its_line():
    with pytest.raises(RenderError) as caught:
        compile_part("line one\nline two {{ oops\n", html=False)
    assert caught.value.line == 2
    assert str(caught.value).startswith("Line 2: ")


def test_an_undefined_variable_is_reported_with_part_and_line():
    with pytest.raises(PartError) as caught:
        render_template("Hi", "ok", "<p>\n{{ user.name }}</p>", {})
    assert caught.value.part == "HTML body"
    assert caught.value.line == 2
    assert "'user' is undefined" in str(caught.value)


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__init__.__globals__ }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ request.application.__globals__.__builtins__ }}",
    "{{ '{0.__class__.__mro__}'.format(1) }}",
    "{{ '%s'.__mod__.__self__.__class__ }}",
    "{{ data.pop('key') }}",
    "{{ items.append(1) }}",
    "{{ lipsum.__globals__ }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ data.__class__.__init__.__globals__ }}",
]


@pytest.mark.parametrize("payload", SANDBOX_ESCAPES)
def test_known_sandbox_escapes_are_refused(payload):
    context = {"data": {"key": "v"}, "items": [1], "request": {"application": 1}}
    with pytest.raises(RenderError) as caught:
        render_part(payload, context, html=False)
    assert "<class" not in str(caught.value)  # nothing of Python's internals leaks out


@pytest.mark.parametrize(
    "payload",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{% for i in range(100000)|reverse %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in 'x'*999999 %}{% for b in 'x'*999999 %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{f(n-1)}}{{f(n-1)}}{% endif %}{% endmacro %}{{f(40)}}",
        "{% for a in range(99999) %}{% for b in range(99999)|list %}{% endfor %}{% endfor %}",
    ],
)
def test_nested_loops_stop_at_the_time_or_output_limit(payload):
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"took longer|longer than"):
        render_part(payload, {}, seconds=0.3)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{{ range(10000000) }}", r"range\(\) is limited"),
        ("{{ 'x' * 100000000 }}", "too large"),
        ("{{ [1] * 100000000 }}", "too large"),
        ("{{ 9 ** 99999999 }}", "too large"),
        ("{{ ((9**999)**999)**999 > 0 }}", "too large"),
        ("{{ 'x'|center(900000000) }}", "limited to a width"),
        ("{{ ('x\n'*400000)|indent(2000) }}", "indentation would be too large"),
        ("{{ '%900000000s' % 'x' }}", "format width"),
        ("{{ '%900000000s'|format('x') }}", "format width"),
        ("{{ '{:>900000000}'.format('x') }}", "format width"),
        ("{{ range(100000)|join('x'*999) }}", "join would be too large"),
        ("{{ ('x'*999999)|replace('x', 'x'*999) }}", "replacement would be too large"),
        ("{{ 'x'.rjust(100000000)|length }}", r"str.rjust\(\) is not available"),
        ("{{ 'x'.zfill(100000000)|length }}", r"str.zfill\(\) is not available"),
        ("{{ ('x'*999).replace('x', 'y'*999999)|length }}", r"str.replace\(\) is not"),
        ("{{ ''.join(['x'*999999]*1000)|length }}", r"str.join\(\) is not available"),
        ("{{ '%*d' % (100000000, 1) }}", "written in the format"),
        ("{{ '%*d'|format(100000000, 1) }}", "written in the format"),
        ("{{ '{:{}}'.format(1, 100000000) }}", "written in the format"),
        ("{{ ((['x'*999999]*200)|join)|length }}", "join would be too large"),
        ("{{ ('x\n'*400000)|indent('x'*2000) }}", "indentation would be too large"),
        ("{{ ('x'*1000000)|wordwrap(1) }}", "wordwrap takes at most"),
        (
            "{% set ns = namespace(a='x'*999999) %}{% for i in range(30) %}"
            "{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}",
            "sum would be too large",
        ),
        ("{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "nested too deeply"),
    ],
)
def test_size_bombs_are_refused_before_they_run(payload, message):
    with pytest.raises(RenderError, match=message):
        render_part(payload, {}, html=False)


def test_a_huge_source_is_refused():
    with pytest.raises(RenderError, match="longer than"):
        compile_part("x" * 100_001, html=False)


def test_recursion_is_reported_not_crashing():
    source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    with pytest.raises(RenderError):
        render_part(source, {}, html=False)
