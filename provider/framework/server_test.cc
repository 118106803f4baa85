#include "provider/framework/server.h"

#include <doctest/doctest.h>

#include "provider/framework/validators.h"
#include "provider/tftypes/codec.h"

namespace pvek8s::framework {
namespace {

using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

// A small resource exercising each planning rule.
class ThingResource : public Resource {
 public:
  ThingResource() {
    Block& b = schema_.block;
    b.description = "A thing.";
    b.attributes = {
        {.name = "id",
         .type = Type::String(),
         .description = "Id.",
         .computed = true,
         .use_state_for_unknown = true},
        {.name = "name",
         .type = Type::String(),
         .description = "Name.",
         .required = true,
         .validators = {Matches("[a-z]+", "lower-case letters")},
         .requires_replace = true},
        {.name = "size",
         .type = Type::Number(),
         .description = "Size.",
         .optional = true,
         .computed = true,
         .validators = {IntBetween(1, 10)},
         .default_value = Value::Int(2)},
        {.name = "revision",
         .type = Type::Number(),
         .description = "Changes on update.",
         .computed = true},
        {.name = "secret",
         .type = Type::String(),
         .description = "Secret.",
         .computed = true,
         .sensitive = true,
         .use_state_for_unknown = true},
        {.name = "password",
         .type = Type::String(),
         .description = "A secret the user sets.",
         .optional = true,
         .sensitive = true,
         .validators = {Matches("[0-9a-f]{8}", "8 hex digits"),
                        [](const Value& v, const AttributePath& p, Diagnostics& d) {
                          d.AddWarning("Echo", "got " + v.AsString() + " here", p);
                        }}},
    };
    Attribute zone{.name = "zone",
                   .type = Type::String(),
                   .description = "Replaces the thing unless moved to \"any\".",
                   .optional = true};
    zone.requires_replace_if = [](const Value& prior, const Value& planned, const Value& config) {
      CHECK(prior.HasValue());
      CHECK(!(prior.Attr("zone") == planned.Attr("zone")));
      return config.GetString("zone") != std::string("any");
    };
    b.attributes.push_back(std::move(zone));
    b.blocks = {{.type_name = "disk",
                 .nesting = NestedBlock::Nesting::kList,
                 .block = {.attributes = {{.name = "size",
                                           .type = Type::Number(),
                                           .description = "Disk size.",
                                           .required = true}},
                           .description = "A disk."},
                 .max_items = 2}};
  }
  std::string TypeName() const override { return "test_thing"; }
  const Schema& GetSchema() const override { return schema_; }
  void Create(const CreateRequest& req, ApplyResponse& resp) override {
    if (req.config.GetString("name") == std::string("fail")) {
      resp.diagnostics.AddError("boom", "create failed", AttributePath("name"));
      return;
    }
    if (req.config.GetString("name") == std::string("forgot")) return;  // leaves unknowns
    resp.state = resp.state.WithAttr("id", Value::String("t-1"))
                     .WithAttr("revision", Value::Int(1))
                     .WithAttr("secret", Value::String("s3cr3t"));
  }
  void Read(const ReadRequest& req, ReadResponse& resp) override {
    if (req.current_state.GetString("id") == std::string("gone")) resp.state = Value();
  }
  void Update(const UpdateRequest& req, ApplyResponse& resp) override {
    resp.state =
        resp.state.WithAttr("revision", Value::Int(*req.prior_state.GetInt("revision") + 1));
  }
  void Delete(const DeleteRequest& req, Diagnostics& diags) override {
    if (req.prior_state.GetString("id") == std::string("stuck")) {
      diags.AddError("cannot delete", "stuck");
    }
  }

 private:
  Schema schema_;
};

class TestProvider : public Provider {
 public:
  TestProvider() { schema_.block.description = "Test."; }
  std::string TypeName() const override { return "test"; }
  const Schema& GetSchema() const override { return schema_; }
  void Configure(const std::string&, const Value&, Diagnostics&) override { configured = true; }
  std::vector<std::unique_ptr<Resource>> Resources() override {
    std::vector<std::unique_ptr<Resource>> out;
    out.push_back(std::make_unique<ThingResource>());
    return out;
  }
  std::vector<std::unique_ptr<DataSource>> DataSources() override { return {}; }
  bool configured = false;

 private:
  Schema schema_;
};

struct Fixture {
  Fixture() : server(std::make_unique<TestProvider>()) {
    type = ImpliedType(server.GetProviderSchema().resources.at("test_thing")->block);
  }
  WireValue Wire(const Value& v) { return WireValue{*tftypes::EncodeMsgpack(v, type), ""}; }
  Value Read(const WireValue& w) { return *tftypes::DecodeMsgpack(w.msgpack, type); }
  Value Config(const std::string& name, std::optional<int64_t> size = std::nullopt) {
    std::map<std::string, Value> attrs{{"name", Value::String(name)}};
    if (size) attrs["size"] = Value::Int(*size);
    attrs["disk"] = Value::List(type.attributes().at("disk").element(), {});
    return Value::Object(type, attrs);
  }
  Server server;
  Type type;
};

TEST_CASE("create plan: configured values kept, defaults applied, computed values unknown") {
  Fixture f;
  Value cfg = f.Config("alpha");
  auto plan = f.server.PlanResourceChange("test_thing", {}, f.Wire(cfg), f.Wire(cfg), "");
  REQUIRE_FALSE(plan.diagnostics.HasError());
  Value p = f.Read(plan.planned_state);
  CHECK(p.Attr("name").AsString() == "alpha");
  CHECK(p.Attr("size").AsInt64() == 2);
  CHECK(p.Attr("id").IsUnknown());
  CHECK(p.Attr("revision").IsUnknown());
  CHECK(plan.requires_replace.empty());

  auto applied =
      f.server.ApplyResourceChange("test_thing", {}, plan.planned_state, f.Wire(cfg), "");
  REQUIRE_FALSE(applied.diagnostics.HasError());
  Value s = f.Read(applied.state);
  CHECK(s.Attr("id").AsString() == "t-1");
  CHECK(s.IsWhollyKnown());

  SUBCASE("an unchanged config plans exactly the prior state") {
    auto again =
        f.server.PlanResourceChange("test_thing", applied.state, applied.state, f.Wire(cfg), "");
    CHECK(f.Read(again.planned_state) == s);
  }
  SUBCASE("an in-place update keeps stable computed values and recomputes others") {
    Value changed_cfg = f.Config("alpha", 3);
    Value proposed = s.WithAttr("size", Value::Int(3));
    auto upd = f.server.PlanResourceChange("test_thing", applied.state, f.Wire(proposed),
                                           f.Wire(changed_cfg), "");
    Value p2 = f.Read(upd.planned_state);
    CHECK(upd.requires_replace.empty());
    CHECK(p2.Attr("id").AsString() == "t-1");
    CHECK(p2.Attr("secret").AsString() == "s3cr3t");
    CHECK(p2.Attr("revision").IsUnknown());
    auto done = f.server.ApplyResourceChange("test_thing", applied.state, upd.planned_state,
                                             f.Wire(changed_cfg), "");
    CHECK(f.Read(done.state).Attr("revision").AsInt64() == 2);
  }
  SUBCASE("changing a requires-replace attribute asks for replacement") {
    Value changed_cfg = f.Config("beta");
    Value proposed = s.WithAttr("name", Value::String("beta"));
    auto rep = f.server.PlanResourceChange("test_thing", applied.state, f.Wire(proposed),
                                           f.Wire(changed_cfg), "");
    REQUIRE(rep.requires_replace.size() == 1);
    CHECK(rep.requires_replace[0].ToString() == "name");
    CHECK(f.Read(rep.planned_state).Attr("id").IsUnknown());
  }
  SUBCASE("destroy plans null and keeps private data") {
    auto d = f.server.PlanResourceChange("test_thing", applied.state, {}, {}, "priv");
    CHECK(f.Read(d.planned_state).IsNull());
    CHECK(d.planned_private == "priv");
    auto del =
        f.server.ApplyResourceChange("test_thing", applied.state, d.planned_state, {}, "priv");
    CHECK(f.Read(del.state).IsNull());
  }
}

TEST_CASE("a conditional requires-replace is decided before computed values are marked") {
  Fixture f;
  Value cfg = f.Config("alpha").WithAttr("zone", Value::String("a"));
  auto plan = f.server.PlanResourceChange("test_thing", {}, f.Wire(cfg), f.Wire(cfg), "");
  auto applied =
      f.server.ApplyResourceChange("test_thing", {}, plan.planned_state, f.Wire(cfg), "");
  REQUIRE_FALSE(applied.diagnostics.HasError());
  Value s = f.Read(applied.state);
  auto plan_zone = [&](const std::string& zone) {
    Value c = cfg.WithAttr("zone", Value::String(zone));
    return f.server.PlanResourceChange("test_thing", applied.state,
                                       f.Wire(s.WithAttr("zone", Value::String(zone))), f.Wire(c),
                                       "");
  };
  SUBCASE("condition true: replaced, stable computed values planned unknown") {
    auto rep = plan_zone("b");
    REQUIRE(rep.requires_replace.size() == 1);
    CHECK(rep.requires_replace[0].ToString() == "zone");
    CHECK(f.Read(rep.planned_state).Attr("id").IsUnknown());
    CHECK(f.Read(rep.planned_state).Attr("secret").IsUnknown());
  }
  SUBCASE("condition false: updated in place, stable values kept") {
    auto upd = plan_zone("any");
    CHECK(upd.requires_replace.empty());
    CHECK(f.Read(upd.planned_state).Attr("id").AsString() == "t-1");
  }
  SUBCASE("unchanged: the condition is not asked") {
    auto same = plan_zone("a");
    CHECK(same.requires_replace.empty());
    CHECK(f.Read(same.planned_state) == s);
  }
}

TEST_CASE("a failed delete keeps the object in state") {
  Fixture f;
  Value s = f.Config("x").WithAttr("id", Value::String("stuck"));
  auto del = f.server.ApplyResourceChange("test_thing", f.Wire(s), {}, {}, "");
  CHECK(del.diagnostics.HasError());
  CHECK(f.Read(del.state) == s);
}

TEST_CASE("apply results may not keep unknowns; failed creates return no half state") {
  Fixture f;
  Value cfg = f.Config("forgot");
  auto plan = f.server.PlanResourceChange("test_thing", {}, f.Wire(cfg), f.Wire(cfg), "");
  auto applied =
      f.server.ApplyResourceChange("test_thing", {}, plan.planned_state, f.Wire(cfg), "");
  REQUIRE(applied.diagnostics.HasError());
  CHECK(applied.diagnostics.items()[0].summary.find("unknown value after apply") !=
        std::string::npos);
  CHECK(f.Read(applied.state).IsWhollyKnown());

  Value bad = f.Config("fail");
  auto p2 = f.server.PlanResourceChange("test_thing", {}, f.Wire(bad), f.Wire(bad), "");
  auto a2 = f.server.ApplyResourceChange("test_thing", {}, p2.planned_state, f.Wire(bad), "");
  REQUIRE(a2.diagnostics.HasError());
  REQUIRE(a2.diagnostics.items()[0].path.has_value());
  CHECK(a2.diagnostics.items()[0].path->ToString() == "name");
}

TEST_CASE("validation names the attribute") {
  Fixture f;
  Value cfg = f.Config("UPPER", 11);
  Diagnostics d = f.server.ValidateResourceConfig("test_thing", f.Wire(cfg));
  REQUIRE(d.items().size() == 2);
  CHECK(d.items()[0].path->ToString() == "name");
  CHECK(d.items()[0].detail.find("lower-case letters") != std::string::npos);
  CHECK(d.items()[1].path->ToString() == "size");
  // Unknown values are not judged.
  Value unknown_name =
      cfg.WithAttr("name", Value::Unknown(Type::String())).WithAttr("size", Value::Int(1));
  CHECK(f.server.ValidateResourceConfig("test_thing", f.Wire(unknown_name)).empty());
  // Setting a computed-only attribute is refused.
  Value with_id = f.Config("ok").WithAttr("id", Value::String("x"));
  auto d2 = f.server.ValidateResourceConfig("test_thing", f.Wire(with_id));
  REQUIRE(d2.HasError());
  CHECK(d2.items()[0].path->ToString() == "id");
  // Block counts.
  Type disk = f.type.attributes().at("disk").element();
  Value one = Value::Object(disk, {{"size", Value::Int(1)}});
  Value three = f.Config("ok").WithAttr("disk", Value::List(disk, {one, one, one}));
  auto d3 = f.server.ValidateResourceConfig("test_thing", f.Wire(three));
  REQUIRE(d3.HasError());
  CHECK(d3.items()[0].summary == "Too many disk blocks");
  CHECK(f.server.ValidateResourceConfig("nope", f.Wire(cfg)).HasError());
}

TEST_CASE("validation never echoes a sensitive value") {
  Fixture f;
  Value cfg = f.Config("ok").WithAttr("password", Value::String("Hunter2-secret"));
  Diagnostics d = f.server.ValidateResourceConfig("test_thing", f.Wire(cfg));
  REQUIRE(d.items().size() == 2);
  CHECK(d.items()[0].summary == "Invalid value for password");
  CHECK(d.items()[0].detail == "The value is not valid: expected 8 hex digits.");
  CHECK(d.items()[0].path->ToString() == "password");
  CHECK(d.items()[1].severity == Diagnostic::Severity::kWarning);
  CHECK(d.items()[1].detail == "got (sensitive value) here");
  CHECK(f.server
            .ValidateResourceConfig("test_thing",
                                    f.Wire(cfg.WithAttr("password", Value::String("0a1b2c3d"))))
            .items()
            .size() == 1);  // only the warning
}

TEST_CASE("refresh removes vanished objects; upgrade accepts pretty or compact JSON") {
  Fixture f;
  Value gone = f.Config("x").WithAttr("id", Value::String("gone"));
  auto r = f.server.ReadResource("test_thing", f.Wire(gone), "p");
  CHECK(f.Read(r.state).IsNull());
  auto up = f.server.UpgradeResourceState(
      "test_thing", 0,
      "{\n  \"id\": \"t-1\",\n  \"name\": \"x\", \"size\": 2, \"dropped\": 1,\n"
      "  \"disk\": []\n}");
  REQUIRE_FALSE(up.diagnostics.HasError());
  Value u = f.Read(up.state);
  CHECK(u.Attr("id").AsString() == "t-1");
  CHECK(u.Attr("revision").IsNull());
  auto newer = f.server.UpgradeResourceState("test_thing", 5, "{}");
  CHECK(newer.diagnostics.HasError());
}

TEST_CASE("import is refused clearly by default") {
  Fixture f;
  Diagnostics d;
  auto out = f.server.ImportResourceState("test_thing", "abc", d);
  CHECK(out.empty());
  REQUIRE(d.HasError());
  CHECK(d.items()[0].detail == "The test_thing resource cannot be imported.");
}

TEST_CASE("schemas follow Terraform's rules") {
  Fixture f;
  auto schemas = f.server.GetProviderSchema();
  for (const auto& [name, s] : schemas.resources) {
    CHECK(CheckSchema(s->block, name).empty());
  }
  Block bad{.attributes = {{.name = "Bad", .type = Type::String()}}};
  auto problems = CheckSchema(bad, "x");
  CHECK(problems.size() == 3);
}

TEST_CASE("validator parsers") {
  CHECK(*ParseDurationSeconds("24h") == 86400);
  CHECK(*ParseDurationSeconds("1h30m15s") == 5415);
  CHECK_FALSE(ParseDurationSeconds("24").ok());
  CHECK_FALSE(ParseDurationSeconds("1d").ok());
  CHECK_FALSE(ParseDurationSeconds("").ok());
  auto c = ParseCidr("172.16.1.0/16");
  REQUIRE(c.ok());
  CHECK(c->host_bits_set);
  CHECK(c->network == "172.16.0.0/16");
  CHECK_FALSE(ParseCidr("10.0.0.0/33").ok());
  CHECK_FALSE(ParseCidr("10.0.0/8").ok());
  CHECK(ParseCidr("fd00::/64").ok());
  CHECK(CidrOverlap(*ParseCidr("10.96.0.0/12"), *ParseCidr("10.100.0.0/16")));
  CHECK_FALSE(CidrOverlap(*ParseCidr("10.96.0.0/12"), *ParseCidr("10.244.0.0/16")));
  std::string host;
  int port = 0;
  CHECK(ParseHostPort("192.168.100.171:6443", &host, &port).ok());
  CHECK(port == 6443);
  CHECK(ParseHostPort("k8s.lab.example:443", &host, &port).ok());
  CHECK(ParseHostPort("[fd00::1]:6443", &host, &port).ok());
  CHECK(host == "fd00::1");
  CHECK_FALSE(ParseHostPort("192.168.100.171", &host, &port).ok());
  CHECK_FALSE(ParseHostPort("300.1.1.1:6443", &host, &port).ok());
  CHECK_FALSE(ParseHostPort("host:0", &host, &port).ok());
  CHECK_FALSE(ParseHostPort("bad_host:80", &host, &port).ok());
  CHECK(ParseHostPort("https://10.0.0.1:6443", &host, &port).message() ==
        "\"https://10.0.0.1:6443\" is not host:port (a URL: leave out https://), e.g. "
        "192.168.100.171:6443");
}

}  // namespace
}  // namespace pvek8s::framework
