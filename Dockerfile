# VIGILEOS Analytics: JupyterLab and Voila images built from this project.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PLOTLY_RENDERER=notebook BROWSER_PATH=/usr/bin/chromium
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 vigileos
WORKDIR /home/vigileos/work
COPY pyproject.toml README.md ./
COPY vigileos_analytics ./vigileos_analytics
RUN pip install .
COPY --chown=vigileos:vigileos notebooks ./notebooks
COPY --chown=vigileos:vigileos parameters ./parameters
USER vigileos
EXPOSE 8888 8866
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]
