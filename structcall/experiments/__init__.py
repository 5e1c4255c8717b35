"""The SFT-vs-DPO function-calling experiment.

One direction of data flow, one module per stage:

    toolbox, phrasing -> tasks (+ verifier, chat) -> teacher -> data -> models, training
        -> evaluation -> attribution -> report;  config + pipeline/stages run them; cli on top

It is installed as ``structcall.experiments`` (the project's own name) but is not part of the
library: it imports the core, the core never imports it.
Run it with ``structcall experiment run --config structcall/experiments/configs/tiny.yaml``.
"""
