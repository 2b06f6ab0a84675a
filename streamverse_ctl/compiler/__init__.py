"""Compile a validated inventory into provider-neutral resources, bound to provider instances."""

from .compile import Binding, Compiled, CompileInput, Override, compile_inventory

__all__ = ["Binding", "CompileInput", "Compiled", "Override", "compile_inventory"]
