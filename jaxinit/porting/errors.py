"""``PortError``: everything in a torch model that a port cannot translate, listed at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing a port cannot translate: ``what`` (e.g. ``"function torch.fft.fft"``), the
    dotted module path of the module whose ``forward`` holds it, its torch class, and where
    in the source (``"file.py:12: x = torch.fft.fft(x)"``) when known."""

    path: str
    torch_class: str
    what: str
    where: str = ""

    def describe(self) -> str:
        """One line: ``"layer1.0 (BasicBlock): function torch.fft.fft at model.py:12: ..."``."""
        at = f" at {self.where}" if self.where else ""
        return f"{self.path or '(model)'} ({self.torch_class}): {self.what}{at}"


def first_line(e: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class PortError(Exception):
    """A torch model that cannot be ported as it is: ``problems`` lists every unsupported
    operation, tensor method or module type (not only the first), each with its module path
    and source line; or a port that ``jaxinit.testing.compare`` found to differ (``report``).

    Example::

        try:
            net, variables = jaxinit.porting.convert(torch_net, x)
        except jaxinit.porting.PortError as e:
            print(e)            # one line per problem
    """

    def __init__(self, message: str, problems: list[Problem] | None = None, report: object = None):
        self.problems = list(problems or [])
        self.report = report
        lines = [message] + [f"  {p.describe()}" for p in self.problems]
        super().__init__("\n".join(lines))
