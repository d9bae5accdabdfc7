"""Control commands: the Coordinator's answer, or a refusal the API turns into a 409."""

from __future__ import annotations

from enum import StrEnum

from blobrl.api.client import CoordinatorClient
from blobrl.run.control import ControlResult


class Command(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


DESCRIPTIONS = {
    Command.START: "idle (--start-paused) or paused -> running",
    Command.PAUSE: "running -> pausing -> paused: games in flight are held",
    Command.RESUME: "paused or pausing -> running: held games continue",
    Command.STOP: "checkpoint and end the run",
}


class TransitionRefused(Exception):
    """The state machine does not allow the command now."""

    def __init__(self, result: ControlResult):
        super().__init__(result.message)
        self.result = result


class Controller:
    def __init__(self, client: CoordinatorClient):
        self.client = client

    async def apply(self, command: Command) -> ControlResult:
        result = await self.client.control(command.value)
        if not result.success:
            raise TransitionRefused(result)
        return result
