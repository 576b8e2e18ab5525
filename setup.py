"""Reads settings.ini (nbdev 2's single source of package metadata) and installs bn_robust."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=cfg['license'],
    python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_packages(include=['bn_robust', 'bn_robust.*']),
    package_data={'bn_robust': ['assets/*.npz']},
    include_package_data=True,
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split(), 'eval': cfg['eval_requirements'].split()},
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
