"""The SFT-vs-DPO function-calling experiment (issue 4).

One direction of data flow, one module per stage:

    toolbox -> tasks -> verifier -> teacher -> data -> training -> evaluation -> attribution -> report

``experiments`` imports ``structcall``; ``structcall`` never imports ``experiments``.
Run it with ``structcall experiment run --config experiments/configs/tiny.yaml``.
"""
