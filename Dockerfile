# The project's image for docker-compose: Python 3.11, the locked environment, the project.
FROM python:3.11-slim-bookworm

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DO_NOT_TRACK=1 \
    CREDIT_DATA_DIR=/opt/credit/.data

# The image has no git: the commit the exports' manifests name is given when it is built
# (docker compose build --build-arg CREDIT_CODE_COMMIT=$(git rev-parse HEAD)).
ARG CREDIT_CODE_COMMIT=""
ENV CREDIT_CODE_COMMIT=${CREDIT_CODE_COMMIT}

RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /opt/credit
COPY pyproject.toml uv.lock README.md ./
COPY include ./include
RUN uv sync --frozen --no-dev --compile-bytecode
COPY . .
