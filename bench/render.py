"""Figure 7, rendering: messages rendered per second with the compiled templates cached (one
`Renderer` per process, as a worker holds it), against a fresh `Renderer` per message (every
template read and compiled again) in the same run.

A message is one step on one channel of the shipped hip-pain sequence, through
`Composer.render`: context, links (signed tokens), templates, layout and CSS inlining for email.
"""

from __future__ import annotations

import time
from dataclasses import replace
from itertools import cycle, islice

from bench.harness import Figure, Run
from nurture.config import get_settings
from nurture.content.compose import Composer
from nurture.content.context import SAMPLE_CONTACT, StepChannel
from nurture.content.render import Renderer
from nurture.core.states import Channel
from nurture.schedule.catalog import load_catalog
from nurture.schedule.sequence import Step

SEQUENCE = "hip-pain-consultation"


def render_all(
    count: int, *, cached: bool = True, channels: tuple[Channel, ...] = tuple(Channel)
) -> float:
    """Render `count` messages (every step and channel in turn); the seconds it took."""
    settings = get_settings()
    catalog = load_catalog(settings.schedules_dir)
    sequence = catalog.get(SEQUENCE)
    jobs = [(s, c) for s in sequence.steps for c in s.channels if c in channels]
    renderer = Renderer(settings.templates_dir)

    def render(n: int, job: tuple[Step, Channel], renderer: Renderer) -> None:
        Composer(renderer, settings, catalog).render(
            StepChannel(sequence, job[0], job[1]),
            replace(SAMPLE_CONTACT, id=n + 1, first_name=f"Alex{n}"),
            n + 1,
        )

    if cached:
        for job in jobs:  # compile once, as a worker's first sends do
            render(0, job, renderer)
    started = time.perf_counter()
    for n, job in enumerate(islice(cycle(jobs), count)):
        render(n, job, renderer if cached else Renderer(settings.templates_dir))
    return time.perf_counter() - started


def run(run: Run) -> Figure:
    fig = Figure("render", "7 rendering")
    count = run.scale.render_messages
    cached = fig.add("email + SMS, cached", "msg/s", baseline="email + SMS, fresh Renderer each")
    email = fig.add("email only, cached", "msg/s")
    sms = fig.add("SMS only, cached", "msg/s")
    cold = fig.add("email + SMS, fresh Renderer each", "msg/s", note="reads and compiles")
    for _ in range(run.repeat):
        cached.runs.append(count / render_all(count))
        email.runs.append(count / render_all(count, channels=(Channel.EMAIL,)))
        sms.runs.append(count / render_all(count, channels=(Channel.SMS,)))
        cold_count = max(1, count // 10)
        cold.runs.append(cold_count / render_all(cold_count, cached=False))
    run.say(f"render: {cached.median:,.0f} msg/s cached, {cold.median:,.0f} msg/s fresh")
    return fig
