// A smoke client on the generated stubs: node dist/smoke.js <core address> <api key> <collection>.
// It creates a record, lists the collection and provokes two errors, then prints what it
// saw as one JSON object for the test to check.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { CreateRecordRequestSchema, RecordService } from "./gen/plinth/v1/record_service_pb.js";

const [address, apiKey, collection] = process.argv.slice(2);

// Credentials travel as gRPC metadata on every call.
function credentials(name: string, value: string): Interceptor {
  return (next) => async (request) => {
    request.header.set(name, value);
    return next(request);
  };
}

function records(name: string, value: string) {
  const transport = createGrpcTransport({
    baseUrl: `http://${address}`,
    interceptors: [credentials(name, value)],
  });
  return createClient(RecordService, transport);
}

// Records are UTF-8 JSON in bytes fields, both ways.
const toJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const fromJson = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

// The gRPC code and ErrorInfo.reason (the REST code) of a failed call.
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    const connectError = ConnectError.from(error);
    const [info] = connectError.findDetails(ErrorInfoSchema);
    return { code: Code[connectError.code], reason: info?.reason, domain: info?.domain };
  }
  throw new Error("the call succeeded");
}

const bearer = records("authorization", `Bearer ${apiKey}`);
const created = await bearer.createRecord(
  create(CreateRecordRequestSchema, { collection, data: toJson({ title: "from TypeScript", count: 3 }) }),
);
const listed = await records("x-api-key", apiKey).listRecords({ collection, includeTotal: true });

console.log(
  JSON.stringify({
    created: fromJson(created.record!.json),
    version: Number(created.record!.version),
    listed: fromJson(listed.records),
    total: Number(listed.total),
    invalid: await failure(bearer.createRecord({ collection, data: toJson({ count: "three" }) })),
    unauthenticated: await failure(records("x-api-key", "plk_wrong").listRecords({ collection })),
  }),
);
