"""Contraction analysis: symbolic Jacobians, metrics and rates (SymPy); LMI certificates (cvxpy)."""
