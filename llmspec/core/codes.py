"""The registry of stable diagnostic codes, grouped by the room that reports them.

A code never changes meaning once released (a renumbered one is listed in MOVED, below);
docs/diagnostics.md is generated from this table.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # LS0xx: the command line
    "LS001": "options that do not go together, or a missing one",
    "LS002": "not a path of the resolved spec",
    # LS1xx: reading the source
    "LS100": "spec file cannot be read",
    "LS101": "invalid YAML syntax",
    "LS102": "file too large",
    "LS103": "file is not UTF-8 text",
    "LS104": "empty spec",
    "LS105": "top level is not a mapping",
    "LS106": "YAML tag not allowed",
    "LS107": "duplicate key",
    "LS108": "too many alias expansions (YAML bomb)",
    "LS109": "nesting too deep",
    "LS110": "more than one YAML document",
    "LS111": "mapping key is not a plain scalar",
    "LS112": "YAML merge key `<<` not supported",
    # LS2xx: schema
    "LS201": "unknown key",
    "LS202": "missing required key",
    "LS203": "wrong type",
    "LS204": "invalid choice",
    "LS205": "value out of range or wrong format",
    "LS206": "invalid value",
    # LS3xx: environments, overrides, interpolation
    "LS301": "undefined variable",
    "LS302": "environment variable not set",
    "LS303": "interpolation cycle",
    "LS304": "malformed secret reference",
    "LS305": "malformed interpolation",
    "LS306": "unknown environment",
    "LS307": "invalid --set override",
    "LS308": "invalid environment overlay",
    "LS309": "secret reference where secrets are not allowed",
    "LS310": "credential written as plain text",
    # LS4xx: semantic checks
    "LS401": "prompt template syntax error",
    "LS402": "template variable not provided",
    "LS403": "template input never used",
    "LS404": "unknown reference",
    "LS410": "gate on a metric that is not computed",
    "LS411": "champion comparison without a registry",
    "LS412": "retrieval metric without retrieval",
    "LS413": "retrieval metric deeper than top_k",
    "LS414": "metric plug-in module not found",
    "LS415": "corpus format not supported",
    "LS416": "chunks longer than the embedding model reads",
    "LS417": "repeated samples of greedy decoding",
    "LS420": "fine-tuning a model served only through an API",
    "LS421": "precision or quantization the target cannot run",
    "LS422": "setting ignored by the chosen method",
    "LS423": "LoRA target module not in the model",
    "LS430": "data path does not exist",
    "LS431": "path escapes the repository",
    "LS432": "glob matches no files",
    "LS440": "governance policy violated",
    "LS450": "token budget does not fit the context window",
    "LS460": "serving target without a registry",
    "LS461": "duplicate serving target",
    "LS462": "retraining alert without a fine-tune",
    "LS463": "`runtime: vllm` cannot serve this model",
    "LS466": "online judge that is not an evaluation metric, or needs a reference",
    "LS467": "rollout that cannot run: no registry, an unknown guard, no adapter to share a base",
    "LS470": "duplicate resource address",
    "LS471": "unknown resource address",
    # LS5xx: rendering
    "LS501": "artifact template failed to render",
    # LS6xx: the engine: apply, plans, approvals, locks, state
    "LS601": "no executor for this kind of resource",
    "LS602": "step failed",
    "LS603": "state is locked by another apply",
    "LS604": "saved plan is stale",
    "LS605": "approval required",
    "LS607": "state backend unavailable",
    "LS608": "skipped: a dependency failed",
    "LS609": "saved plan cannot be read",
    "LS623": "nothing marked to unmark",
    "LS624": "build store unavailable",
    "LS625": "refresh failed: a system holding outputs did not answer",
    # LS7xx: step kinds at work (dataset, finetune, package, eval, promote)
    "LS701": "invalid dataset record",
    "LS702": "preference record over the token budget",
    "LS714": "the preference stage has no fine-tune to start from",
    "LS710": "base model not available",
    "LS711": "fine-tune recipe does not fit the model",
    "LS712": "QLoRA needs a CUDA GPU and bitsandbytes",
    "LS713": "fine-tuned model cannot be fetched",
    "LS720": "a gate failed: not promoted",
    "LS730": "a metric failed on an example",
    "LS740": "Ray is not installed",
    "LS741": "the Ray cluster cannot be reached or has no address",
    "LS742": "the Ray job failed",
    # LS8xx: operating an applied environment (rollback, serve, predict, feedback, monitor, try)
    "LS801": "nothing to roll back",
    "LS810": "nothing to serve, or the server did not start",
    "LS812": "the model server's runtime (vLLM) is not installed or not found",
    "LS811": "a secret the model needs is not set",
    "LS820": "batch prediction input, output or parameter not usable",
    "LS821": "records failed in a batch prediction",
    "LS830": "feedback cannot be recorded",
    "LS840": "monitoring window not understood",
    "LS841": "monitoring report cannot be written",
    "LS850": "sandbox model reference not understood or not loadable",
    "LS860": "cannot import the resource",
    "LS870": "no rollout in progress, or one that cannot be changed so",
    "LS871": "a rollout's figures cannot be read (traces, judges)",
    "LS872": "an online judge failed on a trace",
    "LS875": "a notification could not be delivered",
    "LS880": "harvest output cannot be written",
    "LS881": "nothing to harvest into: the spec has no evaluation datasets",
}


# codes renumbered when the engine, the step kinds and the day-2 commands got rooms of their
# own (they were all LS6xx): old -> new, listed in docs/diagnostics.md
MOVED: dict[str, str] = {
    "LS606": "LS701",
    "LS610": "LS710",
    "LS611": "LS711",
    "LS612": "LS712",
    "LS613": "LS720",
    "LS614": "LS801",
    "LS615": "LS810",
    "LS616": "LS811",
    "LS617": "LS820",
    "LS618": "LS821",
    "LS619": "LS830",
    "LS620": "LS840",
    "LS621": "LS850",
    "LS622": "LS841",
}


def stage_of(code: str) -> str:
    return {
        "0": "command line",
        "1": "source",
        "2": "schema",
        "3": "environments and interpolation",
        "4": "checks",
        "5": "render",
        "6": "apply (engine)",
        "7": "step kinds",
        "8": "operate",
    }[code[2]]
