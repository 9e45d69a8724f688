"""Package definition for langid-tfx.

Beam workers (Dataflow, Flink, Spark) install the project from this file
(`--setup_file ./setup.py`), so every module the pipeline imports at run time must be
part of a package listed here.
"""
import setuptools

setuptools.setup(
    name="langid-tfx",
    version="0.1.0",
    description="TFX pipeline that identifies the language spoken in audio clips.",
    python_requires=">=3.11,<3.12",
    packages=setuptools.find_packages(include=["audio*", "components*", "config*", "contract*", "models*",
                                               "operations*", "pipeline*", "reports*", "scraper*", "serving*",
                                               "storage*"]),
    py_modules=["local_runner", "kubeflow_runner"],
    package_data={"contract": ["*.pbtxt"], "audio": ["noise_bank/*.wav"]},
    entry_points={
        "console_scripts": [
            "langid-local=local_runner:main",
            "langid-kubeflow=kubeflow_runner:main",
            "langid-scraper=scraper.__main__:main",
        ]
    },
)
