# Production image: build wheels in one stage, run as a non-root user in the next.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scripts/vendor-web.sh scripts/
COPY core core
COPY app app
COPY cli cli
# Map assets from their npm packages (integrity-checked), into the wheel's static folder.
RUN scripts/vendor-web.sh
COPY layers layers
COPY ingest ingest
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# The PDFs embed DejaVu Sans (app/pdf.py).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 okaart
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER okaart
WORKDIR /home/okaart
ENV OKAART_ENVIRONMENT=production OKAART_HOST=0.0.0.0 OKAART_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrations at start (idempotent), then the service.
CMD ["sh", "-c", "okaart db migrate && okaart serve --workers 2"]
