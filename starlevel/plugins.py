"""Registers the ``starlevel`` commands on Litestar's own CLI."""

from __future__ import annotations

from click import Group
from litestar.plugins import CLIPluginProtocol


class StarLevelCLIPlugin(CLIPluginProtocol):
    def on_cli_init(self, cli: Group) -> None:
        from starlevel.cli import cli as starlevel_cli

        for name, command in starlevel_cli.commands.items():
            if name not in cli.commands:
                cli.add_command(command, name)
