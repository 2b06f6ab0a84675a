from __future__ import annotations

from typing import Annotated

import typer


def command(shell: Annotated[str, typer.Argument(help="bash, zsh, fish or pwsh")] = "bash") -> None:
    """Print the shell completion script: eval "$(streamverse ctl completion bash)".

    Example: eval "$(streamverse ctl completion bash)"
    """
    from typer._completion_shared import get_completion_script

    if shell not in ("bash", "zsh", "fish", "pwsh", "powershell"):
        raise typer.BadParameter(f"unsupported shell '{shell}' (bash, zsh, fish, pwsh)")
    typer.echo(get_completion_script(prog_name="streamverse", complete_var="_STREAMVERSE_COMPLETE", shell=shell))
