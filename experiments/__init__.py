"""The SFT-vs-DPO function-calling experiment.

One direction of data flow, one module per stage:

    toolbox, phrasing -> tasks (+ verifier, chat) -> teacher -> data -> models, training
        -> evaluation -> attribution -> report;  config + pipeline/stages run them; cli on top

``experiments`` imports ``structcall``; ``structcall`` never imports ``experiments``.
Run it with ``structcall experiment run --config experiments/configs/tiny.yaml``.
"""
