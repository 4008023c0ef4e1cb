"""Render processes: the operating system's limits stop what the checks cannot."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emailconfig.render_pool import RenderPool, render_template
from emailconfig.rendering import TOO_MUCH_MEMORY, PartError, RenderError
from tests.template_bombs import CPU_BOMB, MEMORY_BOMBS, REFUSALS


@pytest.fixture
def pool():
    pool = RenderPool(processes=1, memory_mb=64, seconds=0.5)
    yield pool
    pool.close()


def _limits(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {line[:26].strip(): line[26:47].strip() for line in lines}


@pytest.mark.parametrize("bomb", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_a_memory_bomb_is_stopped_by_the_render_processs_memory_limit(bomb):
    with pytest.raises(PartError) as caught:
        render_template("Hello", bomb, "", {})
    assert caught.value.part == "Text body"
    assert caught.value.message in REFUSALS


def test_each_render_process_runs_under_the_operating_systems_limits(pool):
    pool.render([("{{ 1 }}", False)], {})
    [pid] = pool.pids()
    limits = _limits(pid)
    in_use = int(Path(f"/proc/{pid}/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    room = int(limits["Max address space"]) - in_use
    assert 56 * 2**20 < room <= 64 * 2**20  # 64 MB on top of what it used at start
    assert limits["Max cpu time"] != "unlimited"
    assert limits["Max core file size"] == "0"


def test_a_render_process_is_reused_between_renders(pool):
    first = pool.render([("{{ n }}", False)], {"n": 1})
    pids = pool.pids()
    second = pool.render([("{{ n }}", False)], {"n": 2})
    assert (first[0].text, second[0].text) == ("1", "2")
    assert pool.pids() == pids


def test_a_render_that_overruns_its_time_in_one_call_is_killed_and_replaced(pool):
    pool.render([("warm", False)], {})
    [pid] = pool.pids()
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"^Rendering took longer than 0.5 seconds\.$"):
        pool.render([(CPU_BOMB, False)], {})
    assert time.monotonic() - started < 1.5
    assert pool.pids() != [pid]
    assert not Path(f"/proc/{pid}").exists()
    assert pool.render([("{{ 'next' }}", False)], {})[0].text == "next"


def test_a_render_process_that_dies_mid_render_is_reported_and_replaced():
    pool = RenderPool(processes=1, memory_mb=64, seconds=30)
    try:
        pool.render([("warm", False)], {})
        [pid] = pool.pids()
        threading.Timer(0.3, os.kill, (pid, 9)).start()  # as the kernel's OOM killer would
        with pytest.raises(RenderError, match=f"^{TOO_MUCH_MEMORY}$"):
            pool.render([(CPU_BOMB, False)], {})
        assert pool.render([("{{ 'next' }}", False)], {})[0].text == "next"
    finally:
        pool.close()


def test_a_render_process_that_died_while_idle_costs_no_render_its_error(pool):
    pool.render([("warm", False)], {})
    [pid] = pool.pids()
    os.kill(pid, 9)
    while (
        Path(f"/proc/{pid}/status").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text()
    ):
        time.sleep(0.01)
    assert pool.render([("{{ 'still' }}", False)], {})[0].text == "still"


def test_threads_share_the_pool_and_each_gets_its_own_answer():
    pool = RenderPool(processes=2, memory_mb=64, seconds=5)
    answers: dict[int, list[str]] = {}

    def client(n: int) -> None:
        answers[n] = [
            pool.render([("{{ n }}-{{ i }}", False)], {"n": n, "i": i})[0].text for i in range(20)
        ]

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == {n: [f"{n}-{i}" for i in range(20)] for n in range(6)}
        assert len(pool.pids()) == 2
    finally:
        pool.close()


FORKING_PORTAL = """
import json, os, django
django.setup()
from emailconfig.render_pool import _the_pool, render_template
render_template("Hi", "before the fork", "", {})
reader, writer = os.pipe()
child = os.fork()
if child == 0:
    text = render_template("Hi", "{{ 'after' }}", "", {}).text
    os.write(writer, json.dumps([text, _the_pool().pids()]).encode())
    os._exit(0)
os.waitpid(child, 0)
text, pids = json.loads(os.read(reader, 1000))
still = render_template("Hi", "{{ 'still' }}", "", {}).text
print(json.dumps([text, sorted(set(pids) & set(_the_pool().pids())), len(pids), still]))
"""


def test_a_forked_portal_process_renders_with_processes_of_its_own():
    """As a gunicorn worker does after the master forks it (in a process of one thread,
    as gunicorn's master is)."""
    run = subprocess.run(
        [sys.executable, "-c", FORKING_PORTAL],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(run.stdout) == ["after", [], 2, "still"]


def test_with_no_render_processes_the_portal_process_renders_itself(settings):
    settings.STAGEMAIL_RENDER_PROCESSES = 0
    assert render_template("{{ a }}", "{{ b }}", "", {"a": 1, "b": 2}).text == "2"


def test_any_error_a_filter_raises_is_the_templates_and_keeps_the_process(pool):
    """|wordwrap on a number raises AttributeError: the template's mistake, not the pool's."""
    [before] = pool.pids()
    [outcome] = pool.render([("{{ amount|wordwrap }}", False)], {"amount": 5})
    assert outcome.error is not None
    assert outcome.error.message.startswith("AttributeError:")
    assert outcome.error.line == 1
    assert pool.pids() == [before]


def test_a_replacement_that_cannot_start_is_started_by_the_next_render(pool, monkeypatch):
    import emailconfig.render_pool as render_pool

    real_popen = render_pool.subprocess.Popen

    def no_more_processes(*args, **kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(render_pool.subprocess, "Popen", no_more_processes)
    with pytest.raises(RenderError):  # the child is killed; its replacement cannot start
        pool.render([(CPU_BOMB, False)], {})
    monkeypatch.setattr(render_pool.subprocess, "Popen", real_popen)
    [outcome] = pool.render([("{{ 1 + 1 }}", False)], {})
    assert outcome.text == "2"
    assert len(pool.pids()) == 1


def test_what_a_render_process_sends_back_is_plain_data_of_one_shape():
    from emailconfig.rendering import PartOutcome

    failed = PartOutcome(error=RenderError("no", 3), compiled=False)
    for outcome in (PartOutcome(text="Hi"), failed):
        again = PartOutcome.from_json(json.loads(json.dumps(outcome.to_json())))
        assert (again.text, again.compiled) == (outcome.text, outcome.compiled)
        assert (again.error and (again.error.message, again.error.line)) == (
            outcome.error and (outcome.error.message, outcome.error.line)
        )
    for wrong in (
        ["Hi"],
        {"text": 1, "error": None, "compiled": True},
        {"text": "Hi", "error": {"message": "no", "line": 1}, "compiled": True},
        {"text": "", "error": {"message": "no", "line": "1"}, "compiled": True},
        {"text": "Hi", "error": None, "compiled": True, "extra": "x"},
    ):
        with pytest.raises(ValueError):
            PartOutcome.from_json(wrong)
