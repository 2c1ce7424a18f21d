"""`synapse up`: CORTEX, SYNAPSE and the Neuro-Terminal as child processes on one machine."""

from synapse.stack.services import StackPorts, default_ports, describe_models, stack_specs, synapse_command
from synapse.stack.supervisor import ServiceSpec, StackError, Supervisor

__all__ = [
    "ServiceSpec",
    "StackError",
    "StackPorts",
    "Supervisor",
    "default_ports",
    "describe_models",
    "stack_specs",
    "synapse_command",
]
