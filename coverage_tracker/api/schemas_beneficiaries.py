"""Request and response bodies about who the patient is: enrolment, search, payer changes."""

import datetime as dt

from pydantic import ConfigDict, Field, model_validator

from .schemas import Input, IsoDate, Mbi, Name, Output, PayerName

EXAMPLE_ID = "0b7e3c52-8a55-4a39-9b6e-1f0d1c3a2b4c"


class Enrolment(Input):
    """A new beneficiary of the clinic."""

    mbi: Mbi
    first_name: Name = Field(examples=["Rita"])
    last_name: Name = Field(examples=["Parkes"])
    birth_date: IsoDate = Field(examples=["1950-05-01"])
    payer: PayerName = "medicare"


class Person(Output):
    """Who the beneficiary is."""

    id: str = Field(examples=[EXAMPLE_ID])
    first_name: str
    last_name: str
    birth_date: dt.date
    payer: str = Field(description="A read by id shows the payer in force today; enrolment and search, the payer enrolled with.")


class Beneficiary(Person):
    """The enrolment fields with the full MBI (only enrolment and a read by id show it)."""

    mbi: str = Field(examples=["1EG4TE5MK73"])


class Search(Input):
    """`{mbi}` for an exact match, or `{last_name, birth_date?}` for a last-name prefix (any case)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["mbi"]}, {"required": ["last_name"]}]})

    mbi: Mbi = None
    last_name: Name = Field(default=None, examples=["Par"])
    birth_date: IsoDate = Field(default=None, examples=["1950-05-01"])

    @model_validator(mode="after")
    def _mbi_or_last_name(self) -> "Search":
        if (self.mbi is None) == (self.last_name is None):
            raise ValueError("give either mbi or last_name (with an optional birth_date)")
        if self.last_name is not None and not self.last_name.strip():
            raise ValueError("last_name must not be blank")
        return self


class Found(Person):
    """A search result: the MBI masked."""

    mbi_masked: str = Field(examples=["*******MK73"])


class SearchResults(Output):
    results: list[Found]


class PayerChange(Input):
    """The payer in force from `effective_date`."""

    payer: PayerName
    effective_date: IsoDate


class PayerChanged(Output):
    id: str
    beneficiary_id: str
    payer: str
    effective_date: dt.date
