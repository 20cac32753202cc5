"""Show short reports of the wire tests at the end of a plain `pytest` run.

Test output is captured by default, so a test that wants a few lines to be seen in every run
registers them here; a small plugin object, registered once per session, writes them in the
terminal summary (also shown with -q and -s).
"""

from __future__ import annotations

from typing import Any

_PLUGIN_NAME = "clarifai-client-wire-report"


class _WireReport:
    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for title, lines in self.sections.items():
            terminalreporter.write_sep("-", title)
            for line in lines:
                terminalreporter.write_line(line)


def publish(config: Any, title: str, lines: list[str]) -> None:
    """Queue lines for the terminal summary and print them (visible with -s)."""
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        plugin = _WireReport()
        config.pluginmanager.register(plugin, _PLUGIN_NAME)
    plugin.sections[title] = list(lines)
    print(f"--- {title}")
    for line in lines:
        print(line)
