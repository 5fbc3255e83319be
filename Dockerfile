# omni: one binary, run as `omni worker`, `omni api` or `omni migrate`.
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
CMD ["dev"]
