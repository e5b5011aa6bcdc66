"""The import path plug-ins used before the engine had its own room; kept so they load."""

from llmspec.engine.step import DEFAULT_ENV as DEFAULT_ENV
from llmspec.steps import DeclareContext as DeclareContext
from llmspec.steps import Resource as Resource
from llmspec.steps import ResourceDecl as ResourceDecl
from llmspec.steps import RunContext as RunContext
from llmspec.steps import Step as Step
from llmspec.steps import StepFailed as StepFailed
