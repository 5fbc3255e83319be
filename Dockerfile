# omni: one binary, run as `omni api` (the default), `omni worker` or
# `omni migrate`. Never `omni dev` in a container: it loads demo customers
# and takes provider webhooks unverified.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/omni ./cmd/omni

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/omni /omni
EXPOSE 8080
ENTRYPOINT ["/omni"]
CMD ["api"]
