"""One folder per built-in step kind, each holding its declaration (`step.py`), its rendering
and its execution: dataset, index, finetune, package, evaluate, promote (with rollback), deploy.
A kind may import core, spec, plan.digest, engine.step, integrations and runtime; kinds import
each other only where one kind runs another's output (evaluate loads the packaged model)."""
