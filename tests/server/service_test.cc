// Service tests against an in-process rat-server on free loopback ports.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "core/data/image_codec.h"
#include "core/models/bundle.h"
#include "core/scores/score_engine.h"
#include "tests/server/server_test_support.h"

namespace rat::server {
namespace {

using ::rat::server::testing::Connect;
using ::rat::server::testing::FloatImage;
using ::rat::server::testing::HttpGet;
using ::rat::server::testing::LoopbackConfig;
using ::rat::server::testing::MetricValue;
using ::rat::server::testing::StartServer;
using ::rat::server::testing::TestModelOptions;
using ::rat::server::testing::WriteTestBundle;

// Relative tolerance for scores computed in batches of different sizes.
constexpr double kRelativeTolerance = 1e-5;

void ExpectClose(double expected, double actual, const std::string& label) {
  EXPECT_NEAR(actual, expected,
              kRelativeTolerance * std::max(1.0, std::abs(expected)))
      << label;
}

torch::Tensor ImageTensor(const rat::v1::Image& image) {
  const std::string& data = image.tensor().data();
  std::vector<int64_t> dims(image.tensor().dims().begin(),
                            image.tensor().dims().end());
  return torch::from_blob(const_cast<char*>(data.data()), dims, torch::kFloat32)
      .clone()
      .unsqueeze(0);
}

class PredictTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bundle_path_ =
        new std::string(WriteTestBundle("linear", TestModelOptions()));
    ModelConfig model;
    model.name = "linear";
    model.path = *bundle_path_;
    model.batching.max_batch_size = 64;
    model.batching.max_queue_delay_us = 5000;
    model.default_scores = {ScoreKind::kMsr, ScoreKind::kRrFast};
    server_ = StartServer(LoopbackConfig({model})).release();
  }

  static void TearDownTestSuite() {
    delete server_;
    delete bundle_path_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = Connect(server_->port());
  }

  // The scores ScoreEngine computes in-process for `images`.
  static ScoreResult ScoreInProcess(const torch::Tensor& images,
                                    const std::vector<ScoreKind>& kinds) {
    absl::StatusOr<Bundle> bundle = LoadBundle(*bundle_path_);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    absl::StatusOr<ScoreResult> result =
        ScoreEngine::Score(bundle->module, images, {kinds, ScoreParams()});
    EXPECT_TRUE(result.ok()) << result.status();
    return *std::move(result);
  }

  grpc::Status Predict(const rat::v1::PredictRequest& request,
                       rat::v1::PredictResponse& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    return stub_->Predict(&context, request, &response);
  }

  static std::string* bundle_path_;
  static Server* server_;
  std::unique_ptr<rat::v1::Inference::Stub> stub_;
};

std::string* PredictTest::bundle_path_ = nullptr;
Server* PredictTest::server_ = nullptr;

TEST_F(PredictTest, TensorMatchesScoreEngine) {
  rat::v1::PredictRequest request;
  request.set_model("linear");
  *request.add_images() = FloatImage(1, 4, 4, 3);
  request.add_scores(rat::v1::SCORE_TYPE_MSR);
  request.add_scores(rat::v1::SCORE_TYPE_RR_FAST);
  request.add_scores(rat::v1::SCORE_TYPE_ODIN);
  request.set_top_k(3);
  request.set_return_logits(true);
  rat::v1::PredictResponse response;
  grpc::Status status = Predict(request, response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const ScoreResult expected =
      ScoreInProcess(ImageTensor(request.images(0)),
                     {ScoreKind::kMsr, ScoreKind::kRrFast, ScoreKind::kOdin});
  ASSERT_EQ(response.predictions_size(), 1);
  const rat::v1::Prediction& prediction = response.predictions(0);
  EXPECT_EQ(response.model(), "linear");
  EXPECT_EQ(prediction.label(), expected.predictions[0].item<int64_t>());
  EXPECT_EQ(
      prediction.label_name(),
      std::vector<std::string>({"cat", "dog", "eel"})[prediction.label()]);
  ASSERT_EQ(prediction.top_k_size(), 3);
  EXPECT_EQ(prediction.top_k(0).index(), prediction.label());
  EXPECT_GE(prediction.top_k(0).probability(),
            prediction.top_k(1).probability());
  ASSERT_EQ(prediction.scores_size(), 3);
  EXPECT_EQ(prediction.scores(0).type(), rat::v1::SCORE_TYPE_MSR);
  ExpectClose(expected.scores.at(ScoreKind::kMsr)[0].item<double>(),
              prediction.scores(0).value(), "msr");
  ExpectClose(expected.scores.at(ScoreKind::kRrFast)[0].item<double>(),
              prediction.scores(1).value(), "rr_fast");
  ExpectClose(expected.scores.at(ScoreKind::kOdin)[0].item<double>(),
              prediction.scores(2).value(), "odin");
  EXPECT_DOUBLE_EQ(prediction.top_k(0).probability(),
                   static_cast<float>(prediction.scores(0).value()));
  ASSERT_EQ(prediction.logits_size(), 3);
  for (int k = 0; k < 3; ++k) {
    ExpectClose(expected.logits[0][k].item<float>(), prediction.logits(k),
                "logit");
  }
  EXPECT_TRUE(prediction.decision().accepted());
  EXPECT_EQ(prediction.decision().reason(),
            "accepted: no reject policy is configured");
}

TEST_F(PredictTest, PngMatchesUint8Tensor) {
  const torch::Tensor pixels = torch::arange(16, torch::kInt64)
                                   .mul(13)
                                   .remainder(256)
                                   .to(torch::kUInt8)
                                   .reshape({1, 4, 4});
  absl::StatusOr<std::string> png = EncodePng(pixels);
  ASSERT_TRUE(png.ok()) << png.status();

  rat::v1::PredictRequest request;
  request.set_model("linear");
  request.add_images()->set_encoded(*png);
  rat::v1::TensorImage* raw = request.add_images()->mutable_tensor();
  raw->set_dtype(rat::v1::DATA_TYPE_UINT8);
  raw->add_dims(4);
  raw->add_dims(4);
  raw->set_data(pixels.data_ptr<uint8_t>(), 16);
  rat::v1::PredictResponse response;
  grpc::Status status = Predict(request, response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const ScoreResult expected =
      ScoreInProcess(pixels.to(torch::kFloat32).div(255.0f).unsqueeze(0),
                     {ScoreKind::kMsr, ScoreKind::kRrFast});
  ASSERT_EQ(response.predictions_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const rat::v1::Prediction& prediction = response.predictions(i);
    EXPECT_EQ(prediction.label(), expected.predictions[0].item<int64_t>());
    ASSERT_EQ(prediction.scores_size(), 2);
    ExpectClose(expected.scores.at(ScoreKind::kMsr)[0].item<double>(),
                prediction.scores(0).value(), "msr");
    ExpectClose(expected.scores.at(ScoreKind::kRrFast)[0].item<double>(),
                prediction.scores(1).value(), "rr_fast");
  }
}

TEST_F(PredictTest, BatchEqualsSingleImages) {
  rat::v1::PredictRequest batch;
  batch.set_model("linear");
  for (int i = 0; i < 8; ++i) *batch.add_images() = FloatImage(1, 4, 4, i);
  batch.add_scores(rat::v1::SCORE_TYPE_MSR);
  batch.add_scores(rat::v1::SCORE_TYPE_RR_FAST);
  batch.add_scores(rat::v1::SCORE_TYPE_RR_BS);
  rat::v1::PredictResponse batch_response;
  grpc::Status status = Predict(batch, batch_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(batch_response.predictions_size(), 8);

  for (int i = 0; i < 8; ++i) {
    rat::v1::PredictRequest single = batch;
    single.clear_images();
    *single.add_images() = batch.images(i);
    rat::v1::PredictResponse response;
    status = Predict(single, response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.predictions_size(), 1);
    const rat::v1::Prediction& single_prediction = response.predictions(0);
    const rat::v1::Prediction& batched = batch_response.predictions(i);
    EXPECT_EQ(single_prediction.label(), batched.label()) << "image " << i;
    ASSERT_EQ(single_prediction.scores_size(), 3);
    for (int s = 0; s < 3; ++s) {
      ExpectClose(batched.scores(s).value(),
                  single_prediction.scores(s).value(),
                  "image " + std::to_string(i) + " score " + std::to_string(s));
    }
  }
}

TEST_F(PredictTest, ConcurrentClientsMergeBatches) {
  constexpr int kThreads = 16;
  constexpr int kRequestsPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = Connect(server_->port());
      for (int r = 0; r < kRequestsPerThread; ++r) {
        rat::v1::PredictRequest request;
        request.set_model("linear");
        *request.add_images() = FloatImage(1, 4, 4, t * 100 + r);
        rat::v1::PredictResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(60));
        if (!stub->Predict(&context, request, &response).ok() ||
            response.predictions_size() != 1) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;

  absl::StatusOr<std::string> metrics =
      HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const double batches =
      MetricValue(*metrics, "rat_batch_size_count", "model=\"linear\"");
  const double single_image_batches = MetricValue(
      *metrics, "rat_batch_size_bucket", "model=\"linear\",le=\"1\"");
  EXPECT_GT(batches, single_image_batches)
      << "no batch had more than one image";
}

TEST_F(PredictTest, UnknownModelIsNotFound) {
  rat::v1::PredictRequest request;
  request.set_model("resnet");
  *request.add_images() = FloatImage(1, 4, 4, 0);
  rat::v1::PredictResponse response;
  grpc::Status status = Predict(request, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(),
            "model \"resnet\" not found; served models: linear");
}

TEST_F(PredictTest, TopKAboveClassCountReturnsAllClasses) {
  rat::v1::PredictRequest request;
  request.set_model("linear");
  *request.add_images() = FloatImage(1, 4, 4, 0);
  request.set_top_k(10);
  rat::v1::PredictResponse response;
  grpc::Status status = Predict(request, response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.predictions_size(), 1);
  EXPECT_EQ(response.predictions(0).top_k_size(), 3);
}

TEST_F(PredictTest, ListAndGetModel) {
  grpc::ClientContext list_context;
  rat::v1::ListModelsResponse list;
  ASSERT_TRUE(stub_->ListModels(&list_context, {}, &list).ok());
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).name(), "linear");
  EXPECT_EQ(list.models(0).num_classes(), 3);
  EXPECT_EQ(list.models(0).input_shape().height(), 4);
  EXPECT_TRUE(list.models(0).ready());

  grpc::ClientContext get_context;
  rat::v1::GetModelRequest get;
  get.set_name("linear");
  rat::v1::GetModelResponse model;
  ASSERT_TRUE(stub_->GetModel(&get_context, get, &model).ok());
  EXPECT_EQ(model.card().architecture(), "test_linear");
  EXPECT_EQ(model.card().class_names_size(), 3);
  EXPECT_EQ(model.summary().device(), "cpu");
}

struct ValidationCase {
  std::string name;
  std::function<void(rat::v1::PredictRequest&)> edit;
  std::string message;
};

void PrintTo(const ValidationCase& test_case, std::ostream* os) {
  *os << test_case.name;
}

class ValidationTest : public PredictTest,
                       public ::testing::WithParamInterface<ValidationCase> {};

TEST_P(ValidationTest, ReturnsInvalidArgumentAndKeepsServing) {
  rat::v1::PredictRequest request;
  request.set_model("linear");
  *request.add_images() = FloatImage(1, 4, 4, 0);
  *request.add_images() = FloatImage(1, 4, 4, 1);
  GetParam().edit(request);
  rat::v1::PredictResponse response;
  grpc::Status status = Predict(request, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), GetParam().message);

  rat::v1::PredictRequest valid;
  valid.set_model("linear");
  *valid.add_images() = FloatImage(1, 4, 4, 0);
  rat::v1::PredictResponse valid_response;
  EXPECT_TRUE(Predict(valid, valid_response).ok());
}

float* FloatData(rat::v1::PredictRequest& request, int image) {
  return reinterpret_cast<float*>(
      request.mutable_images(image)->mutable_tensor()->mutable_data()->data());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidationTest,
    ::testing::Values(
        ValidationCase{"EmptyBatch",
                       [](rat::v1::PredictRequest& r) { r.clear_images(); },
                       "images: expected 1 to 256 images, got 0"},
        ValidationCase{"WrongDims",
                       [](rat::v1::PredictRequest& r) {
                         r.mutable_images(1)->mutable_tensor()->set_dims(0, 3);
                       },
                       "images[1].tensor.dims: expected [1, 4, 4] or [4, 4], "
                       "got [3, 4, 4]"},
        ValidationCase{
            "ShortData",
            [](rat::v1::PredictRequest& r) {
              r.mutable_images(1)->mutable_tensor()->mutable_data()->resize(60);
            },
            "images[1].tensor.data: expected 64 bytes (1x4x4 "
            "float32), got 60"},
        ValidationCase{"NaN",
                       [](rat::v1::PredictRequest& r) {
                         FloatData(r, 0)[5] = std::nanf("");
                       },
                       "images[0].tensor.data: expected float32 values in [0, "
                       "1], got nan at element 5"},
        ValidationCase{
            "OutOfRange",
            [](rat::v1::PredictRequest& r) { FloatData(r, 1)[2] = 1.5f; },
            "images[1].tensor.data: expected float32 values in [0, "
            "1], got 1.5 at element 2"},
        ValidationCase{"MissingDtype",
                       [](rat::v1::PredictRequest& r) {
                         r.mutable_images(0)->mutable_tensor()->set_dtype(
                             rat::v1::DATA_TYPE_UNSPECIFIED);
                       },
                       "images[0].tensor.dtype: expected DATA_TYPE_UINT8 or "
                       "DATA_TYPE_FLOAT32, got DATA_TYPE_UNSPECIFIED"},
        ValidationCase{
            "NoContent",
            [](rat::v1::PredictRequest& r) { r.mutable_images(1)->Clear(); },
            "images[1]: expected a tensor or encoded image, got "
            "neither"},
        ValidationCase{"UndecodableImage",
                       [](rat::v1::PredictRequest& r) {
                         r.mutable_images(0)->set_encoded("not an image");
                       },
                       "images[0].encoded: image data (12 bytes) is not a "
                       "decodable PNG or JPEG: unknown image type"},
        ValidationCase{"TopKNegative",
                       [](rat::v1::PredictRequest& r) { r.set_top_k(-2); },
                       "top_k: expected a non-negative integer, got -2"},
        ValidationCase{"UnspecifiedScore",
                       [](rat::v1::PredictRequest& r) {
                         r.add_scores(rat::v1::SCORE_TYPE_MSR);
                         r.add_scores(rat::v1::SCORE_TYPE_UNSPECIFIED);
                       },
                       "scores[1]: expected a score type other than "
                       "SCORE_TYPE_UNSPECIFIED (value 0)"},
        ValidationCase{"NegativeTemperature",
                       [](rat::v1::PredictRequest& r) {
                         r.mutable_options()->set_odin_temperature(-1);
                       },
                       "options.odin_temperature: expected a finite value > 0, "
                       "got -1"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace rat::server
