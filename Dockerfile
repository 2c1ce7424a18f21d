# One image for CORTEX, SYNAPSE and the Neuro-Terminal; compose.yaml picks the command of each.
# EXTRAS=llm adds llama-cpp-python (compiled here, several minutes) for the embedded backend; with Ollama
# doing the generation (compose's default) it is not needed.
FROM python:3.11-slim AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN if [ -n "$EXTRAS" ]; then \
        apt-get update && apt-get install -y --no-install-recommends build-essential cmake && \
        rm -rf /var/lib/apt/lists/*; \
    fi
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY synapse ./synapse
COPY cortex ./cortex
COPY terminal ./terminal
COPY export ./export
# Editable: the terminal's Chainlit root (config, translation) stays in /app/terminal, where Chainlit looks.
RUN pip install -e ".${EXTRAS:+[$EXTRAS]}"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=app /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/data \
    XDG_CACHE_HOME=/data/cache \
    SYNAPSE_HOST=0.0.0.0 CORTEX_HOST=0.0.0.0 TERMINAL_HOST=0.0.0.0
WORKDIR /data
USER app
EXPOSE 8000 8004 8501
CMD ["synapse", "up", "--host", "0.0.0.0"]
