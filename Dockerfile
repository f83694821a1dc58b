FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ESIGN_DATA_DIR=/data

# The CJK faces of official documents, signature appearances, seals and reports.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-arphic-gbsn00lp fonts-arphic-gkai00mp fonts-arphic-ukai \
      fonts-cwtex-fs fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 esign \
 && mkdir -m 0700 /data && chown esign:esign /data

WORKDIR /app
# Exactly the distributions requirements/run.lock pins, each checked against its hash, and nothing else;
# then the project itself, built with the locked setuptools so that no build step fetches anything.
COPY requirements ./requirements
RUN pip install --require-hashes --no-deps -r requirements/run.lock
COPY pyproject.toml README.md ./
COPY esign ./esign
COPY keys ./keys
COPY documents ./documents
COPY webhooks ./webhooks
COPY api ./api
COPY web ./web
COPY migrations ./migrations
RUN pip install --no-deps --no-build-isolation . && rm -rf build

USER esign
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["esign", "serve", "--host", "0.0.0.0", "--port", "8000"]
