"""Provider names: OpenTelemetry GenAI ``gen_ai.provider.name`` values and their aliases."""

from __future__ import annotations

import re

OTEL_PROVIDERS: frozenset[str] = frozenset(
    {
        "openai",
        "anthropic",
        "gcp.gemini",
        "gcp.vertex_ai",
        "gcp.gen_ai",
        "aws.bedrock",
        "azure.ai.openai",
        "azure.ai.inference",
        "cohere",
        "deepseek",
        "groq",
        "ibm.watsonx.ai",
        "mistral_ai",
        "perplexity",
        "x_ai",
    }
)
"""Well-known values of ``gen_ai.provider.name``; any other lower-case name is accepted."""

PROVIDER_ALIASES: dict[str, str] = {
    "google": "gcp.gemini",
    "gemini": "gcp.gemini",
    "google-gla": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "aws": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "azure-openai": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "x-ai": "x_ai",
    "xai": "x_ai",
    "grok": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "claude": "anthropic",
}

GENAI_PRICES_PROVIDER: dict[str, str] = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
}
"""Our provider name to the provider id genai-prices uses, where they differ."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


def normalize_provider(name: str) -> str:
    """Canonical OTel provider name for ``name``; raises ``ValueError`` if it cannot be one.

    >>> normalize_provider("Bedrock")
    'aws.bedrock'
    >>> normalize_provider("openai")
    'openai'
    """
    key = name.strip().lower()
    key = PROVIDER_ALIASES.get(key, key)
    if not _NAME.match(key):
        raise ValueError(
            "provider must be a gen_ai.provider.name such as openai, anthropic, gcp.gemini, "
            "aws.bedrock or azure.ai.openai (lower-case letters, digits, '.', '_' or '-')"
        )
    return key


def pricing_provider_id(provider: str) -> str:
    """The genai-prices provider id for a canonical provider name."""
    return GENAI_PRICES_PROVIDER.get(provider, provider)
