"""The product catalogue and the dose maths: from micrograms to mL, syringe units, containers and supply.

Pure: `parse_catalogue` parses TOML *text* (the file is `data/products.toml`, read elsewhere). Every clinical
number (syringe resolution, site volume limits, discard days, default routes) lives in that file with its
source and is passed in; this module holds none. Volumes are computed in `Decimal` so that 0.1 mL stays
0.1 mL and 100 x 0.01 mL is 1 mL.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import math
import tomllib
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from b12plan.domain.case import CustomProduct
from b12plan.domain.codes import Formulation, Route
from b12plan.domain.plan import ProductUse, Supply
from b12plan.errors import CaseError, DataError, FieldProblem, UnknownProductError

__all__ = [
    "Catalogue",
    "Product",
    "ProductDefaults",
    "SiteLimit",
    "Syringe",
    "check_site_volume",
    "containers_per_dose",
    "dose_volume_ml",
    "is_route_licensed",
    "parse_catalogue",
    "product_from_custom",
    "supply_for",
    "syringe_units",
    "tablets_per_dose",
    "to_product_use",
    "waste_per_dose_ml",
]

Evidence = Literal["P", "Q", "D"]
Form = Literal["injection", "tablet"]
Positive = Annotated[float, Field(gt=0)]
_CATALOGUE_ONLY = ("id", "name", "country", "source", "evidence")  # a case's own product may omit these
_COUNTRY_ALIASES = {"GB": "UK"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Product(_Frozen):
    """One presentation of B12: strength, container, licensed routes, and where those facts come from."""

    id: str | None = Field(default=None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")  # None: described in a case
    name: str = Field(min_length=1)
    formulation: Formulation
    form: Form
    strength_mcg_per_ml: Positive | None = None
    strength_mcg: Positive | None = None
    container_ml: Positive | None = None
    container: Literal["ampoule", "vial", "tablet"]
    multi_dose: bool = False
    discard_after_days: Annotated[int, Field(gt=0)] | None = None
    dead_space_ml: Annotated[float, Field(ge=0)] | None = None
    routes: tuple[Route, ...] = Field(min_length=1)
    country: str | None = None
    default: bool = False
    licensed_for: tuple[str, ...] = ()
    excipients: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    source: str | None = None
    evidence: Evidence | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Product:
        problems = _shape_problems(self)
        if problems:  # `field: problem; ...`, split again by `_problems_of`
            raise ValueError("; ".join(f"{field}: {problem}" for field, problem in problems))
        return self


def _shape_problems(p: Product) -> list[tuple[str, str]]:
    inj = p.form == "injection"
    checks = [
        (inj and p.strength_mcg_per_ml is None, "strength_mcg_per_ml", "is required for an injection"),
        (not inj and p.strength_mcg is None, "strength_mcg", "is required for a tablet"),
        (inj and p.strength_mcg is not None, "strength_mcg", "is for tablets; use strength_mcg_per_ml"),
        (not inj and p.strength_mcg_per_ml is not None, "strength_mcg_per_ml", "is for injections only"),
        (not inj and p.container_ml is not None, "container_ml", "is for injections only"),
        (inj == (p.container == "tablet"), "container", "is `tablet` for tablets, else `ampoule` or `vial`"),
        (
            inj == (Route.ORAL in p.routes) or (not inj and len(p.routes) > 1),
            "routes",
            "oral is only for tablets",
        ),
        (p.multi_dose and p.container != "vial", "multi_dose", "only a vial is multi-dose"),
        (p.multi_dose != (p.discard_after_days is not None), "discard_after_days", "is for multi-dose only"),
    ]
    return [(field, problem) for bad, field, problem in checks if bad]


class _Sourced(_Frozen):
    source: str = Field(min_length=1, description="URL, or `b12plan design rule`.")
    evidence: Evidence
    note: str = ""


class Syringe(_Sourced):
    """The syringe a dose is measured in (U-100 insulin syringe: 100 units per mL, 0.01 mL a unit)."""

    name: str
    units_per_ml: Positive
    resolution_ml: Positive


class SiteLimit(_Sourced):
    """The usual largest volume of one injection at one site; `upper_ml` the ceiling some sources allow."""

    id: str
    route: Route
    site: str
    max_ml: Positive
    upper_ml: Positive | None = None


class ProductDefaults(_Frozen):
    """Facts used when a product does not say: discard days, routes by formulation, syringe, site limits."""

    multi_dose_discard_after_days: int = Field(gt=0)
    multi_dose_discard_source: str
    multi_dose_discard_evidence: Evidence
    routes: dict[Formulation, tuple[Route, ...]]
    syringe: Syringe
    site_limits: tuple[SiteLimit, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_formulation(self) -> ProductDefaults:
        missing = [f.value for f in Formulation if f not in self.routes]
        if missing:
            raise ValueError(f"routes: no default routes for {', '.join(missing)}")
        return self


class Catalogue(_Frozen):
    """Every shipped product, in listing order, with the defaults the dose maths needs."""

    products: tuple[Product, ...]
    defaults: ProductDefaults

    def ids(self) -> list[str]:
        return [p.id for p in self.products if p.id]

    def get(self, product_id: str) -> Product:
        """The product with this id, or UnknownProductError naming close matches."""
        for product in self.products:
            if product.id == product_id:
                return product
        close = difflib.get_close_matches(product_id, self.ids(), n=3, cutoff=0.75)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        problem = f"{product_id!r} is not in the catalogue{hint}; run `b12plan products` to list them"
        raise UnknownProductError([FieldProblem("product", problem)])

    def default_for(self, formulation: Formulation, country: str, form: Form = "injection") -> Product | None:
        """The product marked `default` for this formulation, country (UK, US, JP) and form, or the first."""
        country = _COUNTRY_ALIASES.get(country.upper(), country.upper())
        found = [
            p
            for p in self.products
            if p.formulation == formulation and p.form == form and (p.country or "").upper() == country
        ]
        return next((p for p in found if p.default), found[0] if found else None)


def _problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        message = str(err["msg"]).removeprefix("Value error, ")
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        if loc:
            out.append((loc, message))
        else:  # a model-level check: "field: problem; field: problem"
            for part in message.split("; "):
                field, _, problem = part.partition(": ")
                out.append((field, problem))
    return out


def parse_catalogue(text: str) -> Catalogue:
    """Parse and validate the product catalogue (TOML text); DataError names the product id and field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"products.toml: {exc}") from None
    extra = sorted(set(raw) - {"defaults", "product"})
    if extra:
        raise DataError(f"products.toml: unknown top-level table {', '.join(extra)}")
    try:
        defaults = ProductDefaults.model_validate(raw.get("defaults"))
    except ValidationError as exc:
        raise DataError(
            "; ".join(f"products.toml: defaults.{f}: {p}" for f, p in _problems_of(exc))
        ) from None
    products: list[Product] = []
    for i, entry in enumerate(raw.get("product", [])):
        label = f"product {entry['id']!r}" if isinstance(entry.get("id"), str) else f"product[{i}]"
        required = (*_CATALOGUE_ONLY, "container_ml") if entry.get("form") == "injection" else _CATALOGUE_ONLY
        problems = [(name, "is required") for name in required if entry.get(name) is None]
        try:
            products.append(Product.model_validate(entry))
        except ValidationError as exc:
            problems += _problems_of(exc)
        if problems:
            raise DataError("; ".join(f"products.toml: {label}: {f}: {p}" for f, p in problems))
    ids = [p.id for p in products]
    defaults_for = [(p.formulation, p.country, p.form) for p in products if p.default]
    for p in products:
        if ids.count(p.id) > 1:
            raise DataError(f"products.toml: product {p.id!r}: id: appears more than once")
        if p.default and defaults_for.count((p.formulation, p.country, p.form)) > 1:
            raise DataError(
                f"products.toml: product {p.id!r}: default: another is the default for {p.country}"
            )
    return Catalogue(products=tuple(products), defaults=defaults)


def product_from_custom(custom: CustomProduct, defaults: ProductDefaults) -> Product:
    """A Product from a case's own description. Routes default by formulation, discard days from
    `defaults` (CDC 28-day rule); a bad description raises CaseError naming `product.<field>`."""
    tablet = custom.form == "tablet"
    strength = custom.strength_mcg if tablet else custom.strength_mcg_per_ml
    if strength is None:
        field, what = ("strength_mcg", "a tablet") if tablet else ("strength_mcg_per_ml", "an injection")
        raise CaseError([FieldProblem(f"product.{field}", f"is required for {what} (it is on the label)")])
    unit = "mcg tablets" if tablet else "mcg/mL injection"
    notes = ["Described in the case, not from the catalogue: check it against the label."]
    discard = defaults.multi_dose_discard_after_days if custom.multi_dose else None
    if discard:
        notes.append(f"Discard {discard} days after first puncture unless the label says otherwise.")
    default_routes = (Route.ORAL,) if tablet else defaults.routes[custom.formulation]
    data = {
        **custom.model_dump(exclude={"name", "routes"}),
        "name": custom.name or f"{custom.formulation.value} {strength:g} {unit} (described in the case)",
        "container": "tablet" if tablet else "vial" if custom.multi_dose else "ampoule",
        "discard_after_days": discard,
        "routes": tuple(custom.routes) if custom.routes else default_routes,
        "notes": tuple(notes),
    }
    try:
        return Product.model_validate(data)
    except ValidationError as exc:
        raise CaseError([FieldProblem(f"product.{f}", p) for f, p in _problems_of(exc)]) from None


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))  # the shortest decimal that round-trips: 0.1 -> Decimal("0.1")


def _ml(value: Decimal) -> str:
    return f"{value.normalize():f}"  # Decimal("30.0") -> "30", Decimal("29.90") -> "29.9"


def _label(product: Product) -> str:
    return product.id or product.name


def _container_ml(product: Product) -> Decimal:
    if product.container_ml is None:
        raise ValueError(f"{_label(product)}: the container size (container_ml) is not known")
    return _dec(product.container_ml)


def dose_volume_ml(dose_mcg: float, product: Product, syringe: Syringe) -> float:
    """Volume in mL of `product` that holds `dose_mcg` micrograms: dose (mcg) / strength (mcg/mL), rounded
    half-up to the syringe's resolution (U-100 insulin syringe: 0.01 mL; REFERENCE 4.6, ISMP). Example:
    100 mcg of 1000 mcg/mL is 0.1 mL. ValueError for a tablet, a dose <= 0, or a volume under one step."""
    if product.strength_mcg_per_ml is None:
        raise ValueError(f"{_label(product)} is a tablet: count tablets, not mL")
    if not math.isfinite(dose_mcg) or dose_mcg <= 0:
        raise ValueError(f"a dose must be a positive number of micrograms, not {dose_mcg!r}")
    exact = _dec(dose_mcg) / _dec(product.strength_mcg_per_ml)
    step = _dec(syringe.resolution_ml)
    if exact < step:
        raise ValueError(
            f"{dose_mcg:g} mcg is {exact:.3g} mL of {product.strength_mcg_per_ml:g} mcg/mL, less than the "
            f"{step} mL a {syringe.name} can measure: use a weaker product"
        )
    return float((exact / step).to_integral_value(ROUND_HALF_UP) * step)


def syringe_units(volume_ml: float, syringe: Syringe) -> float:
    """Syringe units for a volume in mL: mL x units per mL (U-100: 0.1 mL = 10 units; REFERENCE 4.6, ISMP)."""
    return float(_dec(volume_ml) * _dec(syringe.units_per_ml))


def containers_per_dose(dose_mcg: float, product: Product, syringe: Syringe) -> int:
    """Whole single-use ampoules or vials one dose opens: ceil(volume mL / container mL). Example: 1000 mcg
    from 500 mcg/1 mL ampoules is 2. ValueError for a multi-dose vial (use `supply_for`) or a tablet."""
    if product.multi_dose:
        raise ValueError(f"{_label(product)} is a multi-dose vial: use supply_for")
    size = _container_ml(product)
    return math.ceil(_dec(dose_volume_ml(dose_mcg, product, syringe)) / size)


def waste_per_dose_ml(dose_mcg: float, product: Product, syringe: Syringe) -> float:
    """mL left unused in the single-use containers one dose opens (discarded, never kept for later)."""
    opened = containers_per_dose(dose_mcg, product, syringe) * _container_ml(product)
    return float(opened - _dec(dose_volume_ml(dose_mcg, product, syringe)))


def tablets_per_dose(dose_mcg: float, product: Product) -> int:
    """Whole tablets for one oral dose in mcg; ValueError when the dose is not a whole number of tablets."""
    if product.strength_mcg is None:
        raise ValueError(f"{_label(product)} is not a tablet")
    count = _dec(dose_mcg) / _dec(product.strength_mcg) if math.isfinite(dose_mcg) else Decimal(0)
    if count <= 0 or count != count.to_integral_value():
        raise ValueError(f"{dose_mcg:g} mcg is not a whole number of {product.strength_mcg:g} mcg tablets")
    return int(count)


def _cadence(dates: Sequence[dt.date]) -> str:
    gaps = {(b - a).days for a, b in itertools.pairwise(dates)}
    if gaps == {1}:
        return "a day"
    if gaps == {7}:
        return "a week"
    return "a month" if gaps and gaps <= set(range(28, 32)) else "a dose"


def _draw_from_vials(
    days: Sequence[dt.date], volumes: Sequence[Decimal], size: Decimal, dead: Decimal, keep_days: int
) -> list[Decimal]:
    """mL drawn from each multi-dose vial, in opening order. A vial is opened at its first draw and not
    drawn from on or after `keep_days` after that; a draw that does not fit opens a fresh vial (vials are
    never pooled)."""
    drawn: list[Decimal] = []
    remaining, discard_on = Decimal(0), dt.date.min
    for day, volume in zip(days, volumes, strict=True):
        need = volume + dead
        if day >= discard_on or remaining < need:
            remaining = Decimal(0)  # the open vial's rest is discarded
        while need > 0:
            if remaining == 0:
                drawn.append(Decimal(0))
                remaining, discard_on = size, day + dt.timedelta(days=keep_days)
            take = min(need, remaining)
            drawn[-1] += take
            remaining -= take
            need -= take
    return drawn


def supply_for(
    doses: Sequence[tuple[dt.date, float]],
    product: Product,
    syringe: Syringe,
    dead_space_ml: float | None = None,
) -> Supply:
    """Containers, mL drawn and mL wasted for dated doses (mcg) of `product`. Single-use ampoules/vials are
    used whole for each dose; a multi-dose vial serves draws of volume + dead space (mL lost in the syringe
    hub: `dead_space_ml`, else the product's) until empty or `discard_after_days` after first puncture (CDC
    28-day rule, REFERENCE 4.3). Wasted = mL bought and not drawn, counting the last container's rest."""
    ordered = sorted(doses, key=lambda d: d[0])
    days = [day for day, _ in ordered]
    total = float(sum((_dec(mcg) for _, mcg in ordered), Decimal(0)))
    if product.form == "tablet":
        count = sum(tablets_per_dose(mcg, product) for _, mcg in ordered)
        note = f"{count} tablets of {product.strength_mcg:g} mcg for {len(ordered)} doses"
        return Supply(containers=count, doses=len(ordered), total_mcg=total, notes=[note] if ordered else [])
    size = _container_ml(product)
    volumes = [_dec(dose_volume_ml(mcg, product, syringe)) for _, mcg in ordered]
    notes: list[str] = []
    if not product.multi_dose:
        counts = [math.ceil(v / size) for v in volumes]
        containers, drawn = sum(counts), sum(volumes, Decimal(0))
        rests = {n * size - v for n, v in zip(counts, volumes, strict=True)}
        if len(rests) == 1 and (rest := rests.pop()) > 0:
            what = f"{_ml(size)} mL {product.container}"
            notes.append(f"each {what} is used for one dose only: {_ml(rest)} mL of it is discarded")
    else:
        keep = product.discard_after_days or 0
        dead = _dec(dead_space_ml if dead_space_ml is not None else product.dead_space_ml or 0.0)
        per_vial = _draw_from_vials(days, volumes, size, dead, keep)
        containers, drawn = len(per_vial), sum(per_vial, Decimal(0))
        rests = {size - v for v in per_vial}
        head = f"each {_ml(size)} mL vial is discarded {keep} days after first use"
        if len(rests) == 1 and (rest := rests.pop()) > 0:
            rate = f" at {_ml(volumes[0])} mL {_cadence(days)}" if len(set(volumes)) == 1 else ""
            notes.append(f"{head}: {_ml(rest)} mL of each is wasted{rate}")
        elif containers:
            unused = _ml(containers * size - drawn)
            notes.append(f"{head} or when empty: {containers} vials, {unused} mL left unused in all")
        if dead and ordered:
            notes.append(
                f"each draw includes {_ml(dead)} mL dead space ({_ml(dead * len(ordered))} mL in all)"
            )
    wasted = float(containers * size - drawn)
    return Supply(
        containers=containers,
        doses=len(ordered),
        total_mcg=total,
        drawn_ml=float(drawn),
        wasted_ml=wasted,
        notes=notes,
    )


def check_site_volume(volume_ml: float, route: Route, limits: Sequence[SiteLimit]) -> str | None:
    """A problem text when one injection of `volume_ml` mL is more than the usual site for `route` takes
    (smallest `max_ml`; IM deltoid 1 mL, large muscle 5 mL, SC 1 mL: REFERENCE 4.6), else None."""
    sites = sorted((s for s in limits if s.route == route), key=lambda s: s.max_ml)
    if not sites or volume_ml <= sites[0].max_ml:
        return None
    usual = sites[0]
    upper = f" (at most {usual.upper_ml:g} mL)" if usual.upper_ml else ""
    head = f"{volume_ml:g} mL in one {route.value} injection is more than the {usual.max_ml:g} mL{upper} "
    head += f"{usual.site} usually takes"
    bigger = next((s for s in sites[1:] if volume_ml <= s.max_ml), None)
    if bigger:
        return f"{head}: use {bigger.site}, up to {bigger.max_ml:g} mL, or split the dose"
    most = sites[-1]
    parts = math.ceil(volume_ml / most.max_ml)
    if most is not usual:
        head += f", and {most.max_ml:g} mL is the most {most.site} takes"
    return f"{head}: split the dose into {parts} injections at separate sites"


def is_route_licensed(product: Product, route: Route) -> bool:
    """True when `route` is one of the product's licensed routes (label/SmPC, REFERENCE 4.1-4.5)."""
    return route in product.routes


def to_product_use(product: Product) -> ProductUse:
    """The plan's product section: the product in hand and how doses are drawn from it."""
    return ProductUse.model_validate(product.model_dump(include=set(ProductUse.model_fields)))
