"""Opening a session: load the model, merge the adapter its memory needs, build the engine.

The one place a job turns `SessionOptions` into a loaded `Session`; everything after works on the session.
"""

from __future__ import annotations

from famcli.jobs.options import SessionOptions
from famcli.jobs.report import Reporter, Silent, note_untrained
from famcli.jobs.session import Session


def open_session(options: SessionOptions, recall=None, reporter: Reporter = Silent(),
                 question: bool = False) -> Session:
    """Load the model, merge the adapter the memory needs, and build the engine. `question`: the command knows
    its question before it reads (`--memory auto` then keeps what it asks about: models.runtime.resolve)."""
    import torch

    from famcli.core.engine import untrained_memory
    from famcli.models.loading import load_model
    from famcli.models.runtime import prepare

    options.check()  # nonsense options fail before loading
    torch.manual_seed(options.seed)
    loaded, config = prepare(load_model(options.model, dtype=options.dtype, device=options.device), options.memory,
                             options.adapter, question, **options.sizes)
    if untrained_memory(loaded, config):
        note_untrained(reporter, config)
    return Session(loaded, config, recall)
