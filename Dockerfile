# One image for every nurture service: api, worker, scheduler, flower (and the migrate step).
# Build: docker build -t nurture .   Run them all: docker compose up -d (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 nurture

# Dependencies at the versions of uv.lock (what CI passed with), then the package, then the
# clinic's files (changed most often).
COPY pyproject.toml uv.lock README.md ./
RUN pip install uv==0.13.9 \
    && uv export --locked --no-dev --extra flower --no-emit-project -o /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY nurture ./nurture
RUN pip install --no-deps .
COPY schedules ./schedules
COPY templates ./templates
RUN mkdir -p /app/var && chown nurture:nurture /app/var

USER nurture
# var/ holds the metrics files every process writes (shared by the services as a volume),
# the scheduler's beat state and, with the outbox channels, the outbox.
ENV NURTURE_VAR_DIR=/app/var \
    NURTURE_SCHEDULES_DIR=/app/schedules \
    NURTURE_TEMPLATES_DIR=/app/templates \
    NURTURE_LOG_FORMAT=json
VOLUME ["/app/var"]
EXPOSE 8000
CMD ["nurture", "api", "--host", "0.0.0.0", "--port", "8000"]
