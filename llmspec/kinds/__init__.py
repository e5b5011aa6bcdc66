"""One folder per built-in step kind, each holding its declaration (`step.py`), its rendering,
its execution and the typed outputs it records (`outputs.py`): dataset, index, finetune,
package, evaluate, promote (with rollback), deploy. A kind may import core, spec, plans, state,
the engine's step interface (and its render, lock and workspace helpers), integrations and
runtime; kinds import each other only to read what another kind recorded (its `outputs`) or to
run its output (evaluate loads the packaged model)."""
