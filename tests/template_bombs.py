"""Templates that build a huge value in one operation, which no check between operations
sees: the render process's memory limit stops them. The eight of issue 10, each in a
form the old code accepted (a short output, |length) after growing the portal process by
half a gigabyte or more."""

from django.conf import settings

from emailconfig.rendering import TOO_MUCH_MEMORY, too_long

# Either limit refuses a bomb: on a loaded machine the few tenths of a CPU-second a bomb
# takes to reach the memory limit can outlast the render time instead.
REFUSALS = (TOO_MUCH_MEMORY, too_long(settings.STAGEMAIL_RENDER_SECONDS))

MEMORY_BOMBS = {
    "join with a huge separator": "{{ (('x'*600)|join('y'*1000000))|length }}",
    "str.format": "{{ ('{0}'*600).format('y'*1000000)|length }}",
    "% formatting": "{{ (('%(a)s'*600) % {'a': 'y'*1000000})|length }}",
    "wordwrap with a huge wrapstring": "{{ ('x'*1200)|wordwrap(2, true, 'y'*1000000)|length }}",
    "replace in a list's text": "{{ ([1]*600)|replace('1', 'y'*1000000)|length }}",
    "~ doubling in a namespace": "{% set ns = namespace(a='x'*999999) %}"
    "{% for i in range(9) %}{% set ns.a = ns.a ~ ns.a %}{% endfor %}{{ ns.a|length }}",
    "string of a shared nested list": "{{ ([['x'*1000]*1000]*600)|string|length }}",
    "sum(start=[]) doubling a list": "{% set ns = namespace(l=['x']*1000000) %}"
    "{% for i in range(6) %}{% set ns.l = [ns.l, ns.l]|sum(start=[]) %}{% endfor %}"
    "{{ ns.l|length }}",
}

# One filter call that runs for seconds, in little memory, in code no deadline check
# reaches (|list runs the lazy map: 128 lookups for each of a million items). The old
# code spent about 9 CPU-seconds on it in the portal process.
CPU_BOMB = "{{ ('ab'*499999)|map(attribute='" + ".".join(["0"] * 128) + "')|list|length }}"
