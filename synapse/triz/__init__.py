"""The TRIZ core: parameters, principles, separation, the contradiction matrix and the analyzer."""

from synapse.triz.analyzer import ContradictionAnalyzer
from synapse.triz.clauses import Split, split_statement
from synapse.triz.default import analyze_problem, default_analyzer
from synapse.triz.knowledge import TrizKnowledge, load_knowledge
from synapse.triz.lookup import matrix_lookup, principle_card, resolve_parameter, suggest_parameters
from synapse.triz.models import (
    Analysis,
    Candidate,
    Localized,
    MatrixAnswer,
    MatrixCell,
    Parameter,
    ParameterRef,
    Principle,
    PrincipleCard,
    PrincipleRef,
    Separation,
)

__all__ = [
    "Analysis",
    "Candidate",
    "ContradictionAnalyzer",
    "Localized",
    "MatrixAnswer",
    "MatrixCell",
    "Parameter",
    "ParameterRef",
    "Principle",
    "PrincipleCard",
    "PrincipleRef",
    "Separation",
    "Split",
    "TrizKnowledge",
    "analyze_problem",
    "default_analyzer",
    "load_knowledge",
    "matrix_lookup",
    "principle_card",
    "resolve_parameter",
    "split_statement",
    "suggest_parameters",
]
